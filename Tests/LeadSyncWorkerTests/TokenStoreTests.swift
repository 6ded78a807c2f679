import Foundation
import Testing

@testable import LeadSyncWorker

/// The tokens file on real files: read once through a descriptor, judged by what was opened.
@Suite struct TokenStoreTests {
    /// A directory of its own per test, removed afterwards.
    func withDirectory(_ body: (URL) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try body(dir)
    }

    func write(_ text: String, to url: URL, mode: Int = 0o600) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
    }

    /// The refusal, checked to name the file and never the token.
    func refusal(_ path: String, secret: String = "tok-secret") throws -> String {
        let error = #expect(throws: TokenStore.LoadError.self) { try TokenStore(path: path) }
        let line = try #require(error?.description)
        #expect(line.contains(path))
        #expect(!line.contains(secret))
        #expect(!line.contains("\n"))
        return line
    }

    @Test func aSymlinkToAGoodFileIsFollowed() throws {
        try withDirectory { dir in
            // As Kubernetes mounts a secret: tokens.json -> ..data/tokens.json.
            try FileManager.default.createDirectory(
                at: dir.appendingPathComponent("..data"), withIntermediateDirectories: true)
            try write(#"{"p1": "tok-secret"}"#, to: dir.appendingPathComponent("..data/tokens.json"), mode: 0o400)
            let link = dir.appendingPathComponent("tokens.json")
            try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "..data/tokens.json")
            let store = try TokenStore(path: link.path)
            #expect(store.token(for: "p1") == "tok-secret")
        }
    }

    @Test func aDirectoryIsRefused() throws {
        try withDirectory { dir in
            let line = try refusal(dir.path)
            #expect(line.contains("is not a regular file"))
        }
    }

    /// Any group or world bit, not only read: a group-writable file can be replaced by others.
    @Test(arguments: [0o640, 0o604, 0o620, 0o602, 0o610])
    func aFileOthersMayTouchIsRefused(_ mode: Int) throws {
        try withDirectory { dir in
            let file = dir.appendingPathComponent("tokens.json")
            try write(#"{"p1": "tok-secret"}"#, to: file, mode: mode)
            let line = try refusal(file.path)
            #expect(line.contains("(mode \(String(mode, radix: 8))): chmod 600 it"))
        }
    }

    @Test func aSymlinkIsJudgedByItsTarget() throws {
        try withDirectory { dir in
            let target = dir.appendingPathComponent("real.json")
            try write(#"{"p1": "tok-secret"}"#, to: target, mode: 0o644)
            let link = dir.appendingPathComponent("tokens.json")
            try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: target.path)
            let line = try refusal(link.path)
            #expect(line.contains("has group or world permissions (mode 644)"))
        }
    }

    @Test func aFileOverOneMiBIsRefused() throws {
        try withDirectory { dir in
            let file = dir.appendingPathComponent("tokens.json")
            let padding = String(repeating: " ", count: TokenStore.maximumFileSize)
            try write(#"{"p1": "tok-secret"}"# + padding, to: file)
            let line = try refusal(file.path)
            #expect(line.contains("larger than 1 MiB"))
        }
    }

    @Test func aMissingFileIsRefused() throws {
        try withDirectory { dir in
            let line = try refusal(dir.appendingPathComponent("none.json").path)
            #expect(line.contains("no such file"))
        }
    }

    @Test(.enabled(if: geteuid() == 0, "only root can give a file away"))
    func aFileOwnedBySomeoneElseIsRefused() throws {
        try withDirectory { dir in
            let file = dir.appendingPathComponent("tokens.json")
            try write(#"{"p1": "tok-secret"}"#, to: file)
            #expect(chown(file.path, 65534, 65534) == 0)
            let line = try refusal(file.path)
            #expect(line.contains("owned by uid 65534"))
        }
    }

    @Test func badJSONNamesTheFileNotTheContent() throws {
        try withDirectory { dir in
            let file = dir.appendingPathComponent("tokens.json")
            try write(#"{"p1": tok-secret}"#, to: file)
            let line = try refusal(file.path)
            #expect(line.contains("is not valid JSON"))
        }
    }
}
