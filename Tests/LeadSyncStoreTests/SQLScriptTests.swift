import Testing

@testable import LeadSyncStore

@Suite struct SQLScriptTests {
    @Test func splitsOnSemicolonsOutsideQuotesAndComments() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE t (a text DEFAULT 'x;y');
            /* block; comment */ SELECT "odd;name" FROM t;
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
            BEGIN
                RETURN 1; -- inside the body
            END;
            $$;
            CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT 'a;b' $body$;
            SELECT 'it''s; fine';
            """
        let statements = SQLScript.statements(in: sql)
        #expect(statements.count == 5)
        #expect(statements[0].hasSuffix("DEFAULT 'x;y')"))
        #expect(statements[2].contains("RETURN 1; -- inside the body"))
        #expect(statements[3].contains("$body$ SELECT 'a;b' $body$"))
        #expect(statements[4] == "SELECT 'it''s; fine'")
    }

    @Test func positionalParametersAreNotDollarQuotes() {
        let statements = SQLScript.statements(in: "SELECT $1, $2; SELECT 2")
        #expect(statements == ["SELECT $1, $2", "SELECT 2"])
    }

    @Test func trailingCommentsAreNotStatements() {
        #expect(SQLScript.statements(in: "SELECT 1;\n-- the end\n") == ["SELECT 1"])
    }
}
