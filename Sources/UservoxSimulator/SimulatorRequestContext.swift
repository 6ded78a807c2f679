import Hummingbird
import NIOCore

/// Hummingbird's basic context plus the connection, which a "drop" fault closes.
public struct SimulatorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    public var maxUploadSize: Int { UservoxSimulator.maxBodyBytes }
}
