import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// read(2) and close(2), named apart from the stream's own `read` and `close`.
func readFile(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
func closeFile(_ fd: Int32) { _ = close(fd) }

/// An import file's bytes as the CSV reader sees them, with what that reader cannot say
/// itself noted by physical line. The reader (yaslab/CSV.swift) stops at the first
/// invalid UTF-8 byte as if the file ended there, and keeps any line whole in memory;
/// here an invalid sequence becomes U+FFFD and its line is noted (the record is then
/// rejected, never imported repaired), and a line beyond `maxLineBytes` keeps only its
/// quotes and line breaks past that point (so records still end where they did, memory
/// stays bounded) and is noted too. Lines are counted as the reader ends rows: LF, CRLF
/// or a lone CR.
final class CheckedInputStream: InputStream {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    let maxLineBytes: Int
    private var status: Stream.Status = .notOpen
    private var failure: (any Error)?

    private var raw: [UInt8]
    private var out: [UInt8] = []
    private var outIndex = 0
    private var carry: [UInt8] = []
    private var ended = false

    /// The physical line being read (1-based) and its length so far.
    private var line = 1
    private var lineBytes = 0
    private var afterCR = false

    /// Ascending line numbers.
    private(set) var invalidUTF8Lines: [Int] = []
    private(set) var longLines: [Int] = []
    /// Bytes taken from the file so far (for the progress line).
    private(set) var bytesRead = 0

    init(descriptor: Int32, ownsDescriptor: Bool, maxLineBytes: Int, chunkSize: Int = 1 << 16) {
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
        self.maxLineBytes = maxLineBytes
        self.raw = [UInt8](repeating: 0, count: chunkSize)
        super.init(data: Data())
    }

    deinit {
        if ownsDescriptor { closeFile(descriptor) }
    }

    override func open() { status = .open }
    override func close() { status = .closed }
    override var streamStatus: Stream.Status { status }
    override var streamError: (any Error)? { failure }
    /// The reader takes false for the end of the file, so this reads ahead to know.
    override var hasBytesAvailable: Bool {
        while outIndex >= out.count && !ended {
            if !fill() { return true }  // `read` then reports the error
        }
        return outIndex < out.count
    }

    override func read(_ buffer: UnsafeMutablePointer<UInt8>, maxLength: Int) -> Int {
        while outIndex >= out.count {
            if ended { return 0 }
            if !fill() { return -1 }
        }
        let count = min(maxLength, out.count - outIndex)
        out.withUnsafeBufferPointer { source in
            buffer.update(from: source.baseAddress! + outIndex, count: count)
        }
        outIndex += count
        return count
    }

    /// Reads one chunk and checks it into `out`. False on a read error.
    private func fill() -> Bool {
        out.removeAll(keepingCapacity: true)
        outIndex = 0
        let count = raw.withUnsafeMutableBytes { readFile(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { return true }
            failure = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            status = .error
            return false
        }
        bytesRead += count
        if count == 0 {
            ended = true
            // A sequence the file ends inside is invalid.
            var output = out
            for _ in carry { replacement(line: line, lineBytes: &lineBytes, into: &output) }
            out = output
            carry.removeAll()
            return true
        }
        if carry.isEmpty {
            raw.withUnsafeBufferPointer { check(UnsafeBufferPointer(rebasing: $0[0..<count])) }
        } else {
            let joined = carry + raw[0..<count]
            carry.removeAll()
            joined.withUnsafeBufferPointer { check($0) }
        }
        return true
    }

    /// The hot loop: state in locals (a class's stored properties would cost an
    /// exclusivity check per access), plain ASCII copied in runs.
    private func check(_ bytes: UnsafeBufferPointer<UInt8>) {
        var output: [UInt8] = []
        swap(&output, &out)  // keeps its capacity, and no second reference to copy on write
        output.reserveCapacity(bytes.count + 16)
        var line = self.line
        var lineBytes = self.lineBytes
        var afterCR = self.afterCR
        let maxLineBytes = self.maxLineBytes
        let n = bytes.count
        var i = 0
        while i < n {
            var j = i
            while j < n {
                let byte = bytes[j]
                if byte >= 0x80 || byte == 0x0A || byte == 0x0D { break }
                j += 1
            }
            if j > i {
                afterCR = false
                let room = maxLineBytes - lineBytes
                if j - i <= room {
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<j]))
                    lineBytes += j - i
                } else {
                    // Past the bound only quotes are kept, so records still end where they did.
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + room)]))
                    lineBytes = maxLineBytes
                    noteLong(line)
                    for k in (i + room)..<j where bytes[k] == 0x22 { output.append(0x22) }
                }
                i = j
                continue
            }
            let byte = bytes[i]
            if byte == 0x0D {
                line += 1
                lineBytes = 0
                afterCR = true
                output.append(byte)
                i += 1
                continue
            }
            if byte == 0x0A {
                if afterCR {
                    afterCR = false
                } else {
                    line += 1
                    lineBytes = 0
                }
                output.append(byte)
                i += 1
                continue
            }
            afterCR = false
            switch Self.sequenceLength(bytes, at: i) {
            case .valid(let size):
                if lineBytes + size <= maxLineBytes {
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + size)]))
                    lineBytes += size
                } else {
                    noteLong(line)
                }
                i += size
            case .incomplete:
                carry.append(contentsOf: bytes[i..<n])
                i = n
            case .invalid:
                replacement(line: line, lineBytes: &lineBytes, into: &output)
                i += 1
            }
        }
        self.line = line
        self.lineBytes = lineBytes
        self.afterCR = afterCR
        out = output
    }

    /// An invalid sequence: U+FFFD in its place, its line noted.
    private func replacement(line: Int, lineBytes: inout Int, into output: inout [UInt8]) {
        if invalidUTF8Lines.last != line { invalidUTF8Lines.append(line) }
        if lineBytes + 3 <= maxLineBytes {
            output.append(contentsOf: [0xEF, 0xBF, 0xBD])
            lineBytes += 3
        } else {
            noteLong(line)
        }
    }

    private func noteLong(_ line: Int) {
        if longLines.last != line { longLines.append(line) }
    }

    enum Sequence { case valid(Int), incomplete, invalid }

    /// RFC 3629's well-formed sequences (Unicode Table 3-7): no overlong forms, no
    /// surrogates, nothing above U+10FFFF.
    static func sequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Sequence {
        let lead = bytes[i]
        let size: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: size = 2
        case 0xE0:
            size = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: size = 3
        case 0xED:
            size = 3
            high = 0x9F
        case 0xF0:
            size = 4
            low = 0x90
        case 0xF1...0xF3: size = 4
        case 0xF4:
            size = 4
            high = 0x8F
        default: return .invalid
        }
        for k in 1..<size {
            guard i + k < bytes.count else { return .incomplete }
            let byte = bytes[i + k]
            let (min, max) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= min && byte <= max else { return .invalid }
        }
        return .valid(size)
    }
}
