import Testing

@testable import LeadSyncConsole

@Suite struct SVGChartTests {
    @Test func niceScaleRoundsUp() {
        #expect(SVGChart.niceScale(max: 0) == (1, 0.25))
        #expect(SVGChart.niceScale(max: 17) == (20, 5))
        #expect(SVGChart.niceScale(max: 20) == (20, 5))
        #expect(SVGChart.niceScale(max: 0.3) == (0.4, 0.1))
        #expect(SVGChart.niceScale(max: 1234) == (1500, 500))
    }
}
