import Foundation

/// Charts drawn on the server as inline SVG inside a `<figure>`: no script, no image
/// requests, colours from CSS classes (so `prefers-color-scheme` applies), every label
/// escaped. Pure: the same input gives the same text, which the tests read.
public enum SVGChart {
    /// One coloured series of a chart: a value per bucket.
    public struct Series: Sendable, Equatable {
        public var name: String
        /// A CSS class naming its colour (`c-ok`, `c-429`, …).
        public var cssClass: String
        public var values: [Double]

        public init(name: String, cssClass: String, values: [Double]) {
            self.name = name
            self.cssClass = cssClass
            self.values = values
        }
    }

    public enum Style: Sendable {
        /// Bars, the series stacked in order from the axis up.
        case stackedBars
        /// One line per series.
        case lines
    }

    /// A round top for the value axis and the step between its gridlines: 1, 2, 2.5 or 5 × 10ⁿ,
    /// four or five steps.
    public static func niceScale(max: Double) -> (top: Double, step: Double) {
        guard max.isFinite, max > 0 else { return (1, 0.25) }
        let rough = max / 4
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        // Less a hair, so 0.3 / 0.1 = 2.9999… does not round up to a fourth step.
        let steps = (max / step * (1 - 1e-9)).rounded(.up)
        return (steps * step, step)
    }

    /// A chart of values over time buckets.
    /// - Parameters:
    ///   - bucketLabels: one per bucket, for tooltips (`14:05`).
    ///   - axisLabels: bucket index and text of the few labels under the axis.
    ///   - summary: one sentence for screen readers (the chart's `<desc>`).
    public static func timeSeries(
        id: String, title: String, unit: String, series: [Series], bucketLabels: [String],
        axisLabels: [(index: Int, text: String)], summary: String, style: Style
    ) -> String {
        let width = 640.0
        let height = 220.0
        let left = 52.0
        let right = 10.0
        let top = 22.0
        let bottom = 26.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let count = max(1, series.map(\.values.count).max() ?? 1)

        var maxValue = 0.0
        for index in 0..<count {
            switch style {
            case .stackedBars:
                maxValue = Swift.max(
                    maxValue, series.reduce(0) { $0 + (index < $1.values.count ? $1.values[index] : 0) })
            case .lines:
                for s in series where index < s.values.count { maxValue = Swift.max(maxValue, s.values[index]) }
            }
        }
        let scale = niceScale(max: maxValue)
        func y(_ value: Double) -> Double { top + plotHeight - value / scale.top * plotHeight }
        let slot = plotWidth / Double(count)

        var svg = ""
        svg += #"<svg class="chart" viewBox="0 0 \#(n(width)) \#(n(height))" role="img" "#
        svg += #"aria-labelledby="\#(e(id))-title \#(e(id))-desc" preserveAspectRatio="xMidYMid meet">"#
        svg += #"<title id="\#(e(id))-title">\#(e(title))</title><desc id="\#(e(id))-desc">\#(e(summary))</desc>"#

        // Gridlines and the value axis.
        var tick = 0.0
        while tick <= scale.top + scale.step / 1000 {
            let yy = y(tick)
            svg += #"<line class="grid" x1="\#(n(left))" y1="\#(n(yy))" x2="\#(n(width - right))" y2="\#(n(yy))"/>"#
            svg +=
                #"<text class="axis" x="\#(n(left - 6))" y="\#(n(yy + 4))" text-anchor="end">\#(e(Figures.rate(tick)))</text>"#
            tick += scale.step
        }
        svg += #"<text class="axis unit" x="\#(n(left))" y="11" text-anchor="start">\#(e(unit))</text>"#
        // The time axis.
        svg +=
            #"<line class="axis-line" x1="\#(n(left))" y1="\#(n(top + plotHeight))" x2="\#(n(width - right))" y2="\#(n(top + plotHeight))"/>"#
        for label in axisLabels {
            let x = left + (Double(label.index) + 0.5) * slot
            svg +=
                #"<text class="axis" x="\#(n(x))" y="\#(n(height - 8))" text-anchor="middle">\#(e(label.text))</text>"#
        }

        switch style {
        case .stackedBars:
            let barWidth = Swift.max(1, slot * 0.78)
            for index in 0..<count {
                var base = 0.0
                for s in series {
                    let value = index < s.values.count ? s.values[index] : 0
                    guard value > 0 else { continue }
                    let y0 = y(base)
                    let y1 = y(base + value)
                    base += value
                    let x = left + Double(index) * slot + (slot - barWidth) / 2
                    let when = index < bucketLabels.count ? bucketLabels[index] + " " : ""
                    svg +=
                        #"<rect class="\#(e(s.cssClass))" x="\#(n(x))" y="\#(n(y1))" width="\#(n(barWidth))" height="\#(n(Swift.max(0.5, y0 - y1)))">"#
                    svg += "<title>\(e(when + s.name + ": " + Figures.rate(value) + " " + unit))</title></rect>"
                }
            }
        case .lines:
            // The first series on top: it is the one the chart is about.
            for s in series.reversed() {
                let points = s.values.enumerated().map { index, value in
                    "\(n(left + (Double(index) + 0.5) * slot)),\(n(y(value)))"
                }
                svg += #"<polyline class="line \#(e(s.cssClass))" points="\#(points.joined(separator: " "))"/>"#
            }
        }
        svg += "</svg>"
        return figure(svg, legend: series.map { ($0.name, $0.cssClass) })
    }

    /// Horizontal bars, one per item, labelled with the name and the count (invalid or held by reason).
    public static func bars(id: String, title: String, items: [(label: String, value: Int, cssClass: String)])
        -> String
    {
        guard !items.isEmpty else { return #"<p class="none">None.</p>"# }
        let width = 640.0
        let rowHeight = 26.0
        let labelWidth = 200.0
        let valueWidth = 70.0
        let height = rowHeight * Double(items.count) + 4
        let maxValue = Double(items.map(\.value).max() ?? 1)
        let barSpace = width - labelWidth - valueWidth
        let summary = items.map { "\($0.label) \(Figures.count($0.value))" }.joined(separator: ", ")
        var svg =
            #"<svg class="chart bars" viewBox="0 0 \#(n(width)) \#(n(height))" role="img" aria-labelledby="\#(e(id))-title \#(e(id))-desc">"#
        svg += #"<title id="\#(e(id))-title">\#(e(title))</title><desc id="\#(e(id))-desc">\#(e(summary))</desc>"#
        for (index, item) in items.enumerated() {
            let y = 2 + Double(index) * rowHeight
            let barWidth = maxValue > 0 ? Swift.max(2, Double(item.value) / maxValue * barSpace) : 0
            svg +=
                #"<text class="label" x="\#(n(labelWidth - 8))" y="\#(n(y + 17))" text-anchor="end">\#(e(item.label))</text>"#
            svg +=
                #"<rect class="\#(e(item.cssClass))" x="\#(n(labelWidth))" y="\#(n(y + 4))" width="\#(n(barWidth))" height="\#(n(rowHeight - 8))" rx="2"/>"#
            svg +=
                #"<text class="value" x="\#(n(labelWidth + barWidth + 6))" y="\#(n(y + 17))">\#(e(Figures.count(item.value)))</text>"#
        }
        svg += "</svg>"
        return figure(svg, legend: [])
    }

    /// How close a rate runs to its limit: a bar for the value, a mark at the limit.
    public static func gauge(id: String, title: String, value: Double, limit: Double, caption: String) -> String {
        let width = 640.0
        let height = 34.0
        let share = limit > 0 ? Swift.min(1, Swift.max(0, value / limit)) : 0
        let level = share >= 0.9 ? "c-hot" : share >= 0.6 ? "c-warm" : "c-cool"
        var svg =
            #"<svg class="chart gauge" viewBox="0 0 \#(n(width)) \#(n(height))" role="img" aria-labelledby="\#(e(id))-title \#(e(id))-desc">"#
        svg += #"<title id="\#(e(id))-title">\#(e(title))</title><desc id="\#(e(id))-desc">\#(e(caption))</desc>"#
        svg += #"<rect class="track" x="0" y="10" width="\#(n(width))" height="14" rx="4"/>"#
        svg +=
            #"<rect class="\#(level)" x="0" y="10" width="\#(n(Swift.max(share > 0 ? 4 : 0, share * width)))" height="14" rx="4"/>"#
        svg += #"<line class="limit" x1="\#(n(width - 1))" y1="0" x2="\#(n(width - 1))" y2="\#(n(height))"/>"#
        svg += "</svg>"
        return #"<figure class="chart-figure">\#(svg)<figcaption>\#(e(caption))</figcaption></figure>"#
    }

    private static func figure(_ svg: String, legend: [(String, String)]) -> String {
        guard !legend.isEmpty else { return #"<figure class="chart-figure">\#(svg)</figure>"# }
        let items = legend.map { #"<li><span class="swatch \#(e($0.1))" aria-hidden="true"></span>\#(e($0.0))</li>"# }
        return #"<figure class="chart-figure">\#(svg)<ul class="legend">\#(items.joined())</ul></figure>"#
    }

    private static func e(_ text: String) -> String { HTMLText.escape(text) }

    /// A coordinate with at most one decimal: short SVG, stable text.
    static func n(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
