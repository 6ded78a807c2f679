import Foundation
import LeadSyncAdmin
import Testing

@testable import LeadSyncConsole

/// The pure pieces: the chart builder, escaping, form decoding, the sign-in MACs, the order.
@Suite struct RenderingTests {
    static let hostile = #"<script>alert("x")</script> & 'q'"#
    static let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"

    @Test func niceScaleRoundsUp() {
        #expect(SVGChart.niceScale(max: 0) == (1, 0.25))
        #expect(SVGChart.niceScale(max: 17) == (20, 5))
        #expect(SVGChart.niceScale(max: 20) == (20, 5))
        let small = SVGChart.niceScale(max: 0.3)
        #expect(abs(small.top - 0.3) < 1e-9 && small.step == 0.1)
        #expect(SVGChart.niceScale(max: 1234) == (1500, 500))
        #expect(SVGChart.niceScale(max: .infinity) == (1, 0.25))
    }

    @Test func stackedBarsHaveAxesLabelsAndOneRectPerNonZeroValue() {
        let svg = SVGChart.timeSeries(
            id: "c1", title: "Requests", unit: "req/s",
            series: [
                .init(name: "ok", cssClass: "c-ok", values: [1, 0, 3]),
                .init(name: "429", cssClass: "c-429", values: [1, 1, 0]),
            ], bucketLabels: ["10:00", "10:01", "10:02"], axisLabels: [(0, "10:00"), (2, "now")],
            summary: "6 requests", style: .stackedBars)
        #expect(svg.components(separatedBy: "<rect ").count - 1 == 4)
        #expect(svg.contains(#"role="img""#))
        #expect(svg.contains("<title id=\"c1-title\">Requests</title>"))
        #expect(svg.contains("<desc id=\"c1-desc\">6 requests</desc>"))
        #expect(svg.contains(">req/s</text>"))
        #expect(svg.contains(">now</text>"))
        // The value axis: 0 to a round top (3, in steps of 1).
        for tick in ["0", "1", "2", "3"] { #expect(svg.contains(">\(tick)</text>")) }
        #expect(svg.contains("<title>10:02 ok: 3 req/s</title>"))
        #expect(svg.contains(#"<ul class="legend">"#))
        // The stack: bucket 0 holds ok (1) under 429 (1), so the 429 bar starts higher.
        #expect(svg.contains(#"class="c-429""#))
    }

    @Test func linesDrawOnePolylinePerSeries() {
        let svg = SVGChart.timeSeries(
            id: "c2", title: "Leads", unit: "leads/s",
            series: [.init(name: "sent", cssClass: "c-leads", values: [0, 5, 10])], bucketLabels: [],
            axisLabels: [], summary: "", style: .lines)
        #expect(svg.components(separatedBy: "<polyline ").count - 1 == 1)
        #expect(svg.contains(">10</text>"))
    }

    @Test func everyLabelOfAChartIsEscaped() {
        let svg = SVGChart.timeSeries(
            id: Self.hostile, title: Self.hostile, unit: Self.hostile,
            series: [.init(name: Self.hostile, cssClass: Self.hostile, values: [1])], bucketLabels: [Self.hostile],
            axisLabels: [(0, Self.hostile)], summary: Self.hostile, style: .stackedBars)
        let bars = SVGChart.bars(
            id: Self.hostile, title: Self.hostile, items: [(label: Self.hostile, value: 3, cssClass: Self.hostile)])
        let gauge = SVGChart.gauge(id: Self.hostile, title: Self.hostile, value: 1, limit: 2, caption: Self.hostile)
        for text in [svg, bars, gauge] {
            #expect(!text.contains("<script>"))
            #expect(!text.contains("'q'"))
            #expect(text.contains(Self.escaped))
        }
    }

    @Test func barsShowEachReasonAndCount() {
        let svg = SVGChart.bars(
            id: "b", title: "Invalid",
            items: [
                (label: "api_duplicate_call", value: 1234, cssClass: "c-invalid"),
                (label: "x", value: 1, cssClass: "c"),
            ])
        #expect(svg.contains(">api_duplicate_call</text>"))
        #expect(svg.contains(">1,234</text>"))
        #expect(SVGChart.bars(id: "b", title: "t", items: []).contains("None."))
    }

    @Test func escapeCoversMarkupQuotesAndControls() {
        #expect(HTMLText.escape(Self.hostile) == Self.escaped)
        #expect(HTMLText.escape("a\u{0}b\tc") == "a\u{FFFD}b\tc")
        #expect(HTMLText.queryComponent("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9")
        #expect(HTMLText.link("/held", [("project", "a&b"), ("reason", nil)]) == "/held?project=a%26b")
    }

    @Test func mustacheEscapesWhatTheTemplatesPrint() {
        struct Page { var breaches: [String] }
        let text = Templates.render(
            "message",
            Console.Body(
                page: Console.MessagePage(tone: "bad", heading: Self.hostile, text: Self.hostile, back: "/"),
                actions: nil))
        #expect(!text.contains("<script>"))
        #expect(text.components(separatedBy: Self.escaped).count - 1 == 2)
    }

    @Test func formFieldsDecodePlusPercentAndBadEscapes() {
        let fields = FormFields("q=%2B1+%28415%29&project=%3Cb%3E&bad=%ZZ%4&empty=&q=second&flag")
        #expect(fields["q"] == "+1 (415)")
        #expect(fields["project"] == "<b>")
        #expect(fields["bad"] == "%ZZ%4")
        #expect(fields["empty"] == nil)
        #expect(fields["flag"] == nil)
        #expect(fields.values["empty"] == "")
        #expect(FormFields("x=%FF")["x"] == "\u{FFFD}")
    }

    @Test func signInMACsDependOnTheTokenAndRevealNothing() {
        let auth = ConsoleAuth(token: "0123456789abcdef-token")
        #expect(auth.isToken("0123456789abcdef-token"))
        #expect(!auth.isToken("0123456789abcdef-tokem"))
        #expect(!auth.isToken(""))
        #expect(auth.session != auth.csrf)
        #expect(!auth.session.contains("token"))
        #expect(auth.isSession(auth.session))
        #expect(!auth.isSession(ConsoleAuth(token: "another-token-of-16").session))
        #expect(!auth.isCSRF(nil))
        #expect(ConsoleAuth.cookie("leadsync_console", in: "a=1; leadsync_console=xyz ; b=2") == "xyz")
        #expect(ConsoleAuth.cookie("leadsync_console", in: "leadsync_consolex=1") == nil)
    }

    @Test func figuresReadWell() {
        #expect(Figures.count(0) == "0")
        #expect(Figures.count(1_234_567) == "1,234,567")
        #expect(Figures.count(-1000) == "-1,000")
        #expect(Figures.rate(0) == "0")
        #expect(Figures.rate(0.2166) == "0.22")
        #expect(Figures.rate(12.34) == "12.3")
        #expect(Figures.rate(20_000) == "20,000")
        #expect(Figures.percent(0.056) == "5.6 %")
        #expect(Figures.percent(0.5) == "50 %")
    }

    @Test func worstFirstPutsBreachesThenPausedThenHeldThenLag() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        var quiet = ProjectReport(projectId: "a-quiet")
        quiet.leads.submitted = 10
        var lagging = ProjectReport(projectId: "b-lagging")
        lagging.oldestPendingAt = now.addingTimeInterval(-3600)
        var paused = ProjectReport(projectId: "c-paused")
        paused.paused = true
        var holding = ProjectReport(projectId: "d-holding")
        holding.leads.held = 5
        var breached = ProjectReport(projectId: "e-breached")
        breached.leads.held = 1
        let breach = ReportThresholds.Breach(threshold: "max-held", project: "e-breached", limit: "0", value: "1 held")
        let order = OverviewOrder.worstFirst([quiet, lagging, paused, holding, breached], breaches: [breach], at: now)
        #expect(order.map(\.projectId) == ["e-breached", "c-paused", "d-holding", "b-lagging", "a-quiet"])
    }
}
