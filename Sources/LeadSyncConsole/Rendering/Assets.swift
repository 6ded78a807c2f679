/// The console's stylesheet and its one small script, served from the binary (no build
/// step, no third-party requests; the Content-Security-Policy allows only these).
enum Assets {
    static let css = #"""
        :root {
          color-scheme: light dark;
          --bg: #f6f7f9; --panel: #ffffff; --text: #1c2430; --muted: #5d6b7e; --line: #e1e5eb; --head: #eef1f5;
          --accent: #2f5bd3; --good: #1f8a4c; --warn: #b86e00; --bad: #c62f3a;
          --bad-bg: #fdecee; --warn-bg: #fff4e0; --good-bg: #e7f6ec;
          --ok: #2e9d5b; --s400: #e08a1e; --s403: #a23bb5; --s404: #d1b000; --s429: #3c7be0; --s5xx: #d6414e;
          --stimeout: #8c2a4a; --sother: #7d8794; --sopen: #b8c0cc; --leads: #2f5bd3;
          --invalid: #e08a1e; --held: #c62f3a; --track: #e6e9ee;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #11151b; --panel: #181e26; --text: #e4e9f0; --muted: #98a4b5; --line: #2a323d; --head: #1f2630;
            --accent: #7ea2ff; --good: #52c483; --warn: #f0a845; --bad: #ff6b76;
            --bad-bg: #3a1c21; --warn-bg: #392a12; --good-bg: #15301f;
            --ok: #45b877; --s400: #f0a845; --s403: #c978d6; --s404: #e3cb3c; --s429: #6c9df0; --s5xx: #f0646f;
            --stimeout: #d0668a; --sother: #8a94a3; --sopen: #4a5462; --leads: #7ea2ff;
            --invalid: #f0a845; --held: #ff6b76; --track: #2a323d;
          }
        }
        * { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0; background: var(--bg); color: var(--text);
          font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
        a { color: var(--accent); text-decoration: none; }
        a:hover, a:focus { text-decoration: underline; }
        :focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
        header.top { background: var(--panel); border-bottom: 1px solid var(--line); }
        .bar { max-width: 1400px; margin: 0 auto; padding: 10px 20px; display: flex; flex-wrap: wrap;
          align-items: center; gap: 10px 24px; }
        .brand { font-weight: 700; font-size: 17px; color: var(--text); letter-spacing: -0.01em; }
        .brand span { color: var(--muted); font-weight: 500; }
        nav ul { list-style: none; display: flex; gap: 4px; margin: 0; padding: 0; flex-wrap: wrap; }
        nav a { display: block; padding: 6px 10px; border-radius: 6px; color: var(--muted); font-weight: 500; }
        nav a[aria-current="page"] { background: var(--head); color: var(--text); }
        form.search { margin-left: auto; display: flex; gap: 6px; }
        input, select, button { font: inherit; color: inherit; }
        input[type="search"], input[type="text"], input[type="password"], select {
          background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 6px 9px; min-width: 0; }
        button { background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: 6px 12px;
          font-weight: 600; cursor: pointer; }
        button.secondary { background: var(--head); color: var(--text); border: 1px solid var(--line); }
        button.danger { background: var(--bad); }
        main { max-width: 1400px; margin: 0 auto; padding: 18px 20px 40px; }
        h1 { font-size: 24px; margin: 4px 0 4px; letter-spacing: -0.015em; overflow-wrap: anywhere; }
        h2 { font-size: 17px; margin: 28px 0 10px; }
        .sub { color: var(--muted); margin: 0 0 16px; }
        .banner { border-radius: 8px; padding: 12px 16px; margin: 0 0 16px; border: 1px solid; }
        .banner.bad { background: var(--bad-bg); border-color: var(--bad); }
        .banner.good { background: var(--good-bg); border-color: var(--good); }
        .banner.warn { background: var(--warn-bg); border-color: var(--warn); }
        .banner strong { display: block; margin-bottom: 2px; }
        .banner ul { margin: 4px 0 0; padding-left: 20px; }
        .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; }
        .table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        caption { text-align: left; padding: 12px 14px 8px; font-weight: 600; color: var(--muted); font-size: 13px;
          text-transform: uppercase; letter-spacing: 0.04em; }
        th, td { padding: 8px 10px; border-top: 1px solid var(--line); text-align: left; vertical-align: baseline;
          white-space: nowrap; }
        table { font-size: 14px; }
        thead th { background: var(--head); font-size: 12.5px; font-weight: 600; color: var(--muted);
          text-transform: uppercase; letter-spacing: 0.03em; }
        tbody th { font-weight: 600; }
        tfoot th, tfoot td { font-weight: 700; background: var(--head); }
        td.num, th.num { text-align: right; }
        td.message { white-space: normal; min-width: 18em; max-width: 38em; overflow-wrap: anywhere; }
        td.code, .code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
          font-size: 13px; }
        tr.bad > th:first-child { box-shadow: inset 4px 0 0 var(--bad); }
        tr.warn > th:first-child { box-shadow: inset 4px 0 0 var(--warn); }
        tr.ok > th:first-child { box-shadow: inset 4px 0 0 var(--ok); }
        .breach { color: var(--bad); font-weight: 700; }
        .pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12.5px; font-weight: 600;
          background: var(--head); color: var(--muted); }
        .pill.bad { background: var(--bad-bg); color: var(--bad); }
        .pill.warn { background: var(--warn-bg); color: var(--warn); }
        .pill.ok, .pill.good { background: var(--good-bg); color: var(--good); }
        .why { display: block; color: var(--muted); font-size: 12.5px; font-weight: 400; white-space: normal;
          max-width: 24em; overflow-wrap: anywhere; }
        th .pill { margin-left: 6px; vertical-align: 1px; }
        tr.ok th .pill { display: none; }
        #summary { margin: 0 0 16px; }
        .muted { color: var(--muted); }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
        .card dt { color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: 0.03em; }
        .card dd { margin: 2px 0 0; font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; }
        .card dd small { display: block; font-size: 12px; font-weight: 400; color: var(--muted); }
        .card.warn dd { color: var(--warn); } .card.bad dd { color: var(--bad); } .card.good dd { color: var(--good); }
        .grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 520px), 1fr)); gap: 14px; }
        .chart-figure { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
          padding: 12px 12px 8px; }
        .chart-figure figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
        .chart-title { font-weight: 600; margin: 0 0 6px; font-size: 14px; }
        svg.chart { width: 100%; height: auto; display: block; }
        svg.chart text { fill: var(--muted); font-size: 11px; font-family: inherit; }
        svg.chart text.label, svg.chart text.value { fill: var(--text); font-size: 13px; }
        svg.chart .grid { stroke: var(--line); stroke-width: 1; }
        svg.chart .axis-line { stroke: var(--muted); stroke-width: 1; }
        svg.chart .line { fill: none; stroke-width: 2; stroke-linejoin: round; }
        svg.chart .line.c-ok { stroke-width: 4; stroke-opacity: 0.55; }
        svg.chart .track { fill: var(--track); }
        svg.chart .limit { stroke: var(--bad); stroke-width: 2; stroke-dasharray: 4 3; }
        .c-ok { fill: var(--ok); stroke: var(--ok); background: var(--ok); }
        .c-400 { fill: var(--s400); background: var(--s400); } .c-403 { fill: var(--s403); background: var(--s403); }
        .c-404 { fill: var(--s404); background: var(--s404); } .c-429 { fill: var(--s429); background: var(--s429); }
        .c-5xx { fill: var(--s5xx); background: var(--s5xx); }
        .c-timeout { fill: var(--stimeout); background: var(--stimeout); }
        .c-other { fill: var(--sother); background: var(--sother); } .c-open { fill: var(--sopen); background: var(--sopen); }
        .c-leads { fill: var(--leads); stroke: var(--leads); background: var(--leads); }
        .line.c-ok { fill: none; } .line.c-leads { fill: none; }
        .c-invalid { fill: var(--invalid); } .c-held { fill: var(--held); }
        .c-cool { fill: var(--ok); } .c-warm { fill: var(--s400); } .c-hot { fill: var(--bad); }
        .legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 6px 0 0; padding: 0;
          font-size: 12.5px; color: var(--muted); }
        .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px;
          vertical-align: -1px; }
        span.outcome { display: inline-flex; align-items: center; gap: 6px; }
        span.outcome::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: inherit; }
        .dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; }
        .filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin: 0 0 14px; }
        .filters label { display: flex; flex-direction: column; font-size: 12.5px; color: var(--muted); gap: 2px; }
        .totals { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 14px; padding: 0; list-style: none; }
        .totals a { display: inline-block; padding: 3px 10px; border-radius: 999px; background: var(--panel);
          border: 1px solid var(--line); font-size: 13px; }
        .pager { display: flex; gap: 14px; margin: 12px 0; align-items: center; flex-wrap: wrap; }
        dl.fields { display: grid; grid-template-columns: minmax(110px, max-content) 1fr; gap: 0; margin: 0; }
        dl.fields dt, dl.fields dd { padding: 7px 14px; border-top: 1px solid var(--line); margin: 0; }
        dl.fields dt { color: var(--muted); font-size: 13.5px; }
        dl.fields > :nth-child(-n+2) { border-top: 0; }
        dl.names dt { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
          font-size: 13px; }
        dl.fields dd { overflow-wrap: anywhere; }
        .actions { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
        .actions form { display: flex; gap: 6px; flex-wrap: wrap; align-items: center; background: var(--panel);
          border: 1px solid var(--line); border-radius: 10px; padding: 8px 10px; }
        .live { font-size: 12.5px; color: var(--muted); display: inline-flex; align-items: center; gap: 6px; }
        footer { max-width: 1400px; margin: 0 auto; padding: 0 20px 30px; color: var(--muted); font-size: 12.5px; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
          white-space: nowrap; }
        @media (max-width: 640px) {
          .bar { padding: 10px 12px; } main { padding: 14px 12px 30px; }
          form.search { margin-left: 0; width: 100%; } form.search input { flex: 1; }
          th, td { padding: 7px 9px; } h1 { font-size: 21px; }
        }
        """#

    /// Live refresh: with JavaScript on, every page fetches itself every few seconds and swaps
    /// its `#live` part; without JavaScript the pages are complete and static.
    static let js = #"""
        (function () {
          "use strict";
          var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
          var toggle = document.getElementById("live-toggle");
          if (!seconds || !toggle || !window.fetch || !window.DOMParser) { return; }
          var box = toggle.querySelector("input");
          toggle.hidden = false;
          function busy() {
            var a = document.activeElement;
            return a && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(a.tagName);
          }
          function refresh() {
            if (!box.checked || document.hidden || busy()) { return; }
            fetch(window.location.href, { credentials: "same-origin", headers: { "X-Console-Refresh": "1" } })
              .then(function (r) { return r.ok ? r.text() : null; })
              .then(function (html) {
                if (!html) { return; }
                var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
                var old = document.getElementById("live");
                if (fresh && old) { old.replaceWith(document.importNode(fresh, true)); }
              })
              .catch(function () { /* the next tick tries again */ });
          }
          window.setInterval(refresh, seconds * 1000);
        })();
        """#
}
