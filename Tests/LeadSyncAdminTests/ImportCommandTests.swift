import Foundation
import LeadSyncTesting
import PostgresNIO
import Testing

/// `leadsync import` (docs/contract.md §7.5) against a real PostgreSQL: every accepted row a
/// pending lead with the file's fields, every other row in the rejects file with its line
/// and reason, never dropped.
@Suite struct ImportCommandTests {
    /// A folder of its own for the test's files.
    static func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("leadsync-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func write(_ bytes: [UInt8], _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    static func write(_ text: String, _ name: String, in dir: URL) throws -> String {
        try write(Array(text.utf8), name, in: dir)
    }

    /// The rejects file's records after its header, as (line, code).
    static func rejects(_ path: String) throws -> [(line: Int, code: String, text: String)] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }.compactMap { record in
            let parts = record.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let line = Int(parts[0]) else { return nil }
            return (line, String(parts[1]), record)
        }
    }

    /// Each lead as `project|phone|email|name|first|last|reference|metadata|init|process|group|remote`.
    static func leads(_ db: TestDatabase) async throws -> [String] {
        try await db.lines(
            """
            SELECT concat_ws('|', project_id, coalesce(phone, '∅'), coalesce(email, '∅'), coalesce(name, '∅'),
                   coalesce(first_name, '∅'), coalesce(last_name, '∅'), coalesce(reference_id, '∅'), metadata::text,
                   init::text, coalesce(process_id, '∅'), coalesce(group_id, '∅'), coalesce(remote_lead_id, '∅'))
            FROM leadsync.leads ORDER BY id
            """)
    }

    /// Every lead an import made is an ordinary pending lead, counted as one.
    static func expectAllPending(_ db: TestDatabase, count: Int) async throws {
        let odd = try await db.value(
            Int64.self,
            """
            SELECT count(*) FROM leadsync.leads WHERE status <> 'pending' OR attempt_count <> 0
                OR next_attempt_at IS NOT NULL OR held_reason IS NOT NULL OR ambiguous OR submitted_at IS NOT NULL
            """)
        #expect(odd == 0)
        let counted = try await db.value(
            Int64.self, "SELECT coalesce(sum(delta), 0)::int8 FROM leadsync.lead_counts WHERE status = 'pending'")
        #expect(counted == Int64(count))
    }

    @Test func csvWithQuotingEmbeddedLineBreaksCRLFAndBOM() async throws {
        try await TestDatabase.with { db in
            let dir = try Self.folder()
            let csv =
                "\u{FEFF}project_id,phone,email,name,reference_id,metadata,init,first_name\r\n"
                + "acme,+14155550100,a@example.com,\"Doe, Jane\",r1,\"{\"\"src\"\":\"\"csv\"\"}\",false,Jane\r\n"
                + "acme,+14155550101,,\"Two\r\nLines\",r2,,,\"say \"\"hi\"\"\"\r\n"
                + "acme,+14155550102,,tab\there,r3,\"{\"\"a\"\":[1,2]}\",TRUE,back\\slash\r\n"
                + "acme,+14155550103,,,r4,,,\r\n"
                + "beta,+14155550104,,no newline at the end,r5,,yes,"
            let path = try Self.write(csv, "leads.csv", in: dir)
            let result = try await leadsync(["import", path], db: db)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("imported 5 of 5 rows"), "\(result)")
            #expect(!FileManager.default.fileExists(atPath: path + ".rejects.csv"))
            #expect(
                try await Self.leads(db) == [
                    "acme|+14155550100|a@example.com|Doe, Jane|Jane|∅|r1|{\"src\": \"csv\"}|false|∅|∅|∅",
                    "acme|+14155550101|∅|Two\r\nLines|say \"hi\"|∅|r2|{}|true|∅|∅|∅",
                    "acme|+14155550102|∅|tab\there|back\\slash|∅|r3|{\"a\": [1, 2]}|true|∅|∅|∅",
                    "acme|+14155550103|∅|∅|∅|∅|r4|{}|true|∅|∅|∅",
                    "beta|+14155550104|∅|no newline at the end|∅|∅|r5|{}|true|∅|∅|∅",
                ])
            try await Self.expectAllPending(db, count: 5)
            // The insert made the projects, as any INSERT does.
            #expect(try await db.lines("SELECT project_id FROM leadsync.projects ORDER BY 1") == ["acme", "beta"])
        }
    }

    @Test func badRowsGoToTheRejectsFileWithTheirLines() async throws {
        try await TestDatabase.with { db in
            let dir = try Self.folder()
            var bytes = Array("project_id,phone,email,metadata,init,name\n".utf8)
            func line(_ text: String) { bytes += Array((text + "\n").utf8) }
            line("p1,+14155550100,ok1@example.com,,,")  // 2 ok
            line("p1,+1\(String(repeating: "5", count: 64)),,,,")  // 3 phone over 64 bytes
            line("p1,+14155550102,\(String(repeating: "e", count: 321)),,,")  // 4 email over 320
            line("p1,+14155550103,,{\"\"broken,,")  // 5 metadata not JSON
            line("p1,+14155550104,,\"{\"\"a\"\":1}\",maybe,")  // 6 init not a boolean
            line("p1,+14155550105,,")  // 7 too few fields
            line("p1,+14155550106,,,,\"two\nlines\"")  // 8–9 ok, spans two lines
            bytes += Array("p1,+14155550107,,,,bad ".utf8) + [0xFF, 0xFE] + Array("utf8\n".utf8)  // 10
            line(",+14155550108,,,,")  // 11 no project, no --project
            line("p1,,,,,nobody")  // 12 neither phone nor remote_lead_id
            line("p1,+14155550109,,\"[1,2]\",,")  // 13 metadata not an object
            line("p1,+14155550110,,\"{\"\"n\"\":1e1000000}\",,")  // 14 JSON PostgreSQL cannot store
            line("p1,+14155550111,,,,\"\(String(repeating: "x", count: 2 << 20))\"")  // 15 a 2 MiB line
            line("p1,+14155550112,,,,")  // 16 ok
            bytes += Array("p1,+14155550113,,,,nul".utf8) + [0] + Array("\n".utf8)  // 17
            line("")  // 18 blank: no record
            line("p1,+14155550114,,,,last")  // 19 ok
            let path = try Self.write(bytes, "bad.csv", in: dir)
            let rejectsPath = dir.appendingPathComponent("rejected.csv").path
            let result = try await leadsync(["import", path, "--rejects", rejectsPath], db: db)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout.contains("imported 4 of 16 rows"), "\(result)")
            #expect(result.stderrLines.count == 1)
            #expect(result.stderr.contains("12 rows rejected"), "\(result)")
            let rejected = try Self.rejects(rejectsPath).sorted { $0.line < $1.line }
            #expect(
                rejected.map { "\($0.line) \($0.code)" } == [
                    "3 leads_phone_bytes", "4 leads_email_bytes", "5 bad_json", "6 bad_value", "7 column_count",
                    "10 invalid_utf8", "11 leads_project_id_present", "12 leads_phone_or_remote_lead_id_present",
                    "13 leads_metadata_is_object", "14 refused", "15 long_line", "17 nul",
                ], "\(rejected.map(\.text))")
            #expect(rejected.first { $0.line == 3 }?.text.contains("CHECK ((octet_length(phone) <= 64))") == true)
            #expect(rejected.first { $0.line == 14 }?.text.contains("value overflows numeric format") == true)
            #expect(
                try await db.lines("SELECT phone FROM leadsync.leads ORDER BY id") == [
                    "+14155550100", "+14155550106", "+14155550112", "+14155550114",
                ])
            try await Self.expectAllPending(db, count: 4)
        }
    }

    /// A file whose columns have no defaults goes straight into leads by COPY; a batch with a
    /// row the table refuses is taken again the long way, and only that row is rejected.
    @Test func aRefusedRowInACopiedBatchRejectsOnlyItself() async throws {
        try await TestDatabase.with { db in
            let dir = try Self.folder()
            let path = try Self.write(
                """
                project_id,phone,name
                acme,+14155550100,one
                acme,+14155550101\(String(repeating: "1", count: 63)),two
                acme,+14155550102,three
                acme,,four
                acme,+14155550104,five
                acme,+14155550105,six

                """, "direct.csv", in: dir)
            let result = try await leadsync(["import", path, "--batch-size", "3"], db: db)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout.contains("imported 4 of 6 rows"), "\(result)")
            #expect(
                try Self.rejects(path + ".rejects.csv").map { "\($0.line) \($0.code)" } == [
                    "3 leads_phone_bytes", "5 leads_phone_or_remote_lead_id_present",
                ])
            #expect(
                try await db.lines("SELECT name FROM leadsync.leads ORDER BY id") == ["one", "three", "five", "six"])
            try await Self.expectAllPending(db, count: 4)
        }
    }

    @Test func mapProjectAndUsageErrors() async throws {
        try await TestDatabase.with { db in
            let dir = try Self.folder()
            let path = try Self.write(
                "Mobile,Customer ID,name\n+14155550100,c-1,Ann\n+14155550101,c-2,Bob\n", "export.csv", in: dir)
            // No project column and no --project: nothing is read further, nothing written.
            var result = try await leadsync(
                ["import", path, "--map", "Mobile=phone", "--map", "Customer ID=reference_id"], db: db)
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains("no project_id column"), "\(result)")
            // An unknown header.
            result = try await leadsync(["import", path, "--project", "acme"], db: db)
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains("column 'Mobile'"), "\(result)")
            #expect(result.stderr.contains("--map"), "\(result)")
            // A map to a column writers do not set, or from a header the file lacks.
            result = try await leadsync(["import", path, "--map", "Mobile=status"], db: db)
            #expect(result.status == 2, "\(result)")
            result = try await leadsync(
                ["import", path, "--project", "acme", "--map", "Mobile=phone", "--map", "Fax=phone"], db: db)
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains("no column named 'Fax'"), "\(result)")
            // A file that is not there, an empty one.
            result = try await leadsync(["import", dir.appendingPathComponent("missing.csv").path], db: db)
            #expect(result.status == 2, "\(result)")
            result = try await leadsync(["import", try Self.write("", "empty.csv", in: dir), "--project", "a"], db: db)
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains("is empty"), "\(result)")
            #expect(try await Self.leads(db).isEmpty)

            result = try await leadsync(
                ["import", path, "--project", "acme", "--map", "Mobile=phone", "--map", "Customer ID=reference_id"],
                db: db)
            #expect(result.status == 0, "\(result)")
            #expect(
                try await Self.leads(db) == [
                    "acme|+14155550100|∅|Ann|∅|∅|c-1|{}|true|∅|∅|∅", "acme|+14155550101|∅|Bob|∅|∅|c-2|{}|true|∅|∅|∅",
                ])
            // A header line alone imports nothing, successfully.
            result = try await leadsync(
                ["import", try Self.write("project_id,phone\r\n", "header.csv", in: dir)], db: db)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("imported 0 of 0 rows"), "\(result)")
        }
    }

    @Test func ndjson() async throws {
        try await TestDatabase.with { db in
            let dir = try Self.folder()
            var bytes = Array("\u{FEFF}".utf8)
            func line(_ text: String) { bytes += Array((text + "\n").utf8) }
            line(
                #"{"project_id":"p1","phone":"+14155550100","metadata":{"tier":"gold","n":[1,2.5]},"init":false,"reference_id":42,"first_name":"Zoë"}"#
            )  // 1
            line(#"{"phone":"+14155550101","name":null,"process_id":"proc-1"}"#)  // 2 project from --project
            line(#"{"project_id":"p1","phone":"+14155550102","colour":"red"}"#)  // 3 unknown key
            line(#"{"project_id":"p1","phone":"+14155550103""#)  // 4 not JSON
            line(#"["p1","+14155550104"]"#)  // 5 not an object
            line("")  // 6 blank
            line(#"{"project_id":"p1","phone":"+14155550105","metadata":{"k":"\u0000"}}"#)  // 7 NUL in jsonb
            line(#"{"project_id":"p1","phone":{"n":1}}"#)  // 8 phone not a string
            // 9
            bytes +=
                Array(#"{"project_id":"p1","phone":"+14155550106","name":""#.utf8) + [0xC3, 0x28] + Array("\"}\n".utf8)
            // 10
            line(#"{"project_id":"p1","phone":"+14155550107","name":"\#(String(repeating: "n", count: 2 << 20))"}"#)
            line(#"{"project_id":"p1","remote_lead_id":"rl-9","Mobile":"x"}"#)  // 11 Mobile mapped to group_id
            line(#"{"project_id":"p1","phone":"+14155550108","phone":"+14155550109"}"#)  // 12 twice
            line(#"{"project_id":"p1","phone":"+14155550110","init":"off","metadata":null}"#)  // 13 ok
            let path = try Self.write(bytes, "leads.ndjson", in: dir)
            let result = try await leadsync(["import", path, "--project", "dflt", "--map", "Mobile=group_id"], db: db)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout.contains("imported 4 of 12 rows"), "\(result)")
            let rejected = try Self.rejects(path + ".rejects.csv")
            #expect(
                rejected.map { "\($0.line) \($0.code)" } == [
                    "3 unknown_column", "4 bad_line", "5 bad_line", "7 bad_json", "8 bad_value", "9 invalid_utf8",
                    "10 long_line", "12 bad_line",
                ], "\(rejected.map(\.text))")
            #expect(
                try await Self.leads(db) == [
                    "p1|+14155550100|∅|∅|Zoë|∅|42|{\"n\": [1, 2.5], \"tier\": \"gold\"}|false|∅|∅|∅",
                    "dflt|+14155550101|∅|∅|∅|∅|∅|{}|true|proc-1|∅|∅",
                    "p1|∅|∅|∅|∅|∅|∅|{}|true|∅|x|rl-9",
                    "p1|+14155550110|∅|∅|∅|∅|∅|{}|false|∅|∅|∅",
                ])
            try await Self.expectAllPending(db, count: 4)
            // An empty NDJSON file imports nothing, successfully.
            let empty = try await leadsync(["import", try Self.write("", "empty.jsonl", in: dir)], db: db)
            #expect(empty.status == 0, "\(empty)")
        }
    }

    @Test func theWriterImportsALesserRoleIsRefused() async throws {
        try await TestDatabase.with { db in
            let dir = try Self.folder()
            let path = try Self.write("project_id,phone\nacme,+14155550100\nacme,+14155550101\n", "w.csv", in: dir)
            try await db.withLoginRole(memberOf: "leadsync_reader") { url in
                let result = try await leadsync(["import", path], url: url.urlString)
                #expect(result.status == 2, "\(result)")
                #expect(result.stderrLines.count == 1)
                #expect(result.stderr.contains("may not INSERT into leadsync.leads"), "\(result)")
                #expect(result.stderr.contains("leadsync_writer"), "\(result)")
            }
            try await db.withLoginRole(memberOf: "leadsync_writer") { url in
                let result = try await leadsync(["import", path, "--skip-existing"], url: url.urlString)
                #expect(result.status == 0, "\(result)")
                #expect(result.stdout.contains("imported 2 of 2 rows"), "\(result)")
            }
            try await Self.expectAllPending(db, count: 2)
        }
    }

    @Test func skipExistingSkipsKnownReferencesAndRepeatsInTheFile() async throws {
        try await TestDatabase.with { db in
            try await db.withConnection { c in
                try await c.query(
                    "INSERT INTO leadsync.leads (project_id, phone, reference_id) VALUES ('acme', '+14155550100', 'r1')",
                    logger: db.logger)
            }
            let dir = try Self.folder()
            let path = try Self.write(
                """
                project_id,phone,reference_id
                acme,+14155550100,r1
                beta,+14155550100,r1
                acme,+14155550102,r2
                acme,+14155550103,r2
                acme,+14155550104,
                acme,+14155550105,

                """, "s.csv", in: dir)
            let result = try await leadsync(["import", path, "--skip-existing", "--batch-size", "2"], db: db)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("imported 4 of 6 rows"), "\(result)")
            #expect(result.stdout.contains("2 skipped"), "\(result)")
            #expect(
                try await db.lines("SELECT project_id || ':' || phone FROM leadsync.leads ORDER BY id") == [
                    "acme:+14155550100", "beta:+14155550100", "acme:+14155550102", "acme:+14155550104",
                    "acme:+14155550105",
                ])
        }
    }

    /// An import killed while a batch waits is resumed with --skip-existing: nothing lost,
    /// nothing twice. The test holds a lock the second batch's insert waits on (its
    /// project's row, being inserted in the test's open transaction), kills the import
    /// there, and runs it again.
    @Test func anInterruptedImportResumesWithSkipExisting() async throws {
        try await TestDatabase.with { db in
            let dir = try Self.folder()
            var csv = "project_id,phone,reference_id\n"
            for i in 0..<300 { csv += "first,+1415555\(String(format: "%04d", i)),a\(i)\n" }
            for i in 0..<300 { csv += "second,+1415666\(String(format: "%04d", i)),b\(i)\n" }
            let path = try Self.write(csv, "big.csv", in: dir)

            let blocker = try await db.connect()
            do {
                try await blocker.query("BEGIN", logger: db.logger)
                try await blocker.query(
                    "INSERT INTO leadsync.projects (project_id) VALUES ('second')", logger: db.logger)
                let process = try ManagedProcess(
                    ProductBinary.path("leadsync"), arguments: ["import", path, "--batch-size", "300"],
                    environment: ["DATABASE_URL": db.url.urlString, "NO_COLOR": "1", "LOG_LEVEL": "warning"])
                try await waitUntil("the first batch is in and the second waits") {
                    let waiting = try await db.value(
                        Int64.self,
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                    return waiting == 1
                }
                #expect(try await db.value(Int64.self, "SELECT count(*) FROM leadsync.leads") == 300)
                process.signal(SIGKILL)
                try await process.waitForExit()
                _ = try await db.value(
                    Int64.self,
                    """
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock'
                    """)
                try await blocker.query("ROLLBACK", logger: db.logger)
                try await blocker.close()
            } catch {
                try? await blocker.close()
                throw error
            }
            #expect(try await db.value(Int64.self, "SELECT count(*) FROM leadsync.leads") == 300)

            let resumed = try await leadsync(["import", path, "--skip-existing", "--batch-size", "300"], db: db)
            #expect(resumed.status == 0, "\(resumed)")
            #expect(resumed.stdout.contains("imported 300 of 600 rows"), "\(resumed)")
            #expect(resumed.stdout.contains("300 skipped"), "\(resumed)")
            #expect(try await db.value(Int64.self, "SELECT count(*) FROM leadsync.leads") == 600)
            #expect(try await db.value(Int64.self, "SELECT count(DISTINCT reference_id) FROM leadsync.leads") == 600)
            try await Self.expectAllPending(db, count: 600)
        }
    }
}
