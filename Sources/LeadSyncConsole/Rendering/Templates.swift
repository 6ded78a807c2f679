import Mustache

/// The pages' Mustache templates. `{{ }}` escapes for HTML (`<`, `>`, `&`, `"`, `'`), so a
/// project id or an API message is text, never markup; `{{{ }}}` is used only for the SVG
/// the chart builder made, which escapes its own labels (tests hold both to it).
enum Templates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in all {
            // The templates are constants of this file: a syntax error is a bug the tests catch.
            do { try library.register(text, named: name) } catch { preconditionFailure("template \(name): \(error)") }
        }
        return library
    }()

    static func render(_ name: String, _ object: Any) -> String {
        library.render(object, withTemplate: name) ?? ""
    }

    static let all: [(String, String)] = [
        ("layout", layout), ("overview", overview), ("project", project), ("lead", lead), ("search", search),
        ("list", list), ("message", message), ("login", login), ("actionResult", actionResult),
    ]

    static let layout = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <title>{{title}} · LeadSync console</title>
        <link rel="stylesheet" href="/assets/console.css">
        <script src="/assets/console.js" defer></script>
        </head>
        <body data-refresh="{{refresh}}">
        <a class="visually-hidden" href="#main">Skip to content</a>
        <header class="top"><div class="bar">
        <a class="brand" href="/">LeadSync <span>console</span></a>
        <nav aria-label="Main"><ul>
        <li><a href="/"{{#isOverview}} aria-current="page"{{/isOverview}}>Overview</a></li>
        <li><a href="/invalid"{{#isInvalid}} aria-current="page"{{/isInvalid}}>Invalid</a></li>
        <li><a href="/held"{{#isHeld}} aria-current="page"{{/isHeld}}>Held</a></li>
        </ul></nav>
        <form class="search" action="/lead" method="get" role="search">
        <label class="visually-hidden" for="q">Lead id, reference_id or phone</label>
        <input type="search" id="q" name="q" placeholder="Lead id, reference_id or phone" size="28" value="{{query}}">
        <button type="submit">Find</button>
        </form>
        </div></header>
        <main id="main">
        {{{body}}}
        </main>
        <footer>
        <label id="live-toggle" class="live" hidden><input type="checkbox" checked> Live, every {{refresh}} s ·</label>
        <span>{{mode}}</span> · <span>taken at {{generatedAt}}</span>
        {{#canSignIn}} · <a href="/login">Sign in for actions</a>{{/canSignIn}}
        {{#signedIn}} · signed in for actions{{/signedIn}}
        </footer>
        </body>
        </html>
        """#

    static let overview = #"""
        {{#page}}
        <div id="live">
        <h1>Projects</h1>
        <p class="sub">{{projectCount}} projects{{^equalzero(pausedCount)}}, {{pausedCount}} paused{{/equalzero(pausedCount)}}.
        Lead counts are now; requests/s and leads/s over the last minute; invalid rate over the last {{sinceText}}.</p>
        {{^empty(breaches)}}
        <div class="banner bad" role="alert" id="breaches"><strong>Check breached</strong>
        <span class="muted">The thresholds of <code>leadsync report --check</code>: {{thresholdsText}}.</span>
        <ul>{{#breaches}}<li>{{.}}</li>{{/breaches}}</ul></div>
        {{/empty(breaches)}}
        {{#empty(breaches)}}{{^empty(lines)}}
        <div class="banner good" id="breaches"><strong>All checks pass</strong>
        <span class="muted">None of {{thresholdsText}}.</span></div>
        {{/empty(lines)}}{{/empty(breaches)}}
        {{^empty(lines)}}{{#totals}}
        <dl class="cards" id="summary">
        <div class="card"><dt>Pending</dt><dd data-total="pending">{{pending}}<small>{{retrying}} retrying</small></dd></div>
        <div class="card"><dt>In flight</dt><dd data-total="in_flight">{{inFlight}}<small>leads in open requests</small></dd></div>
        <div class="card good"><dt>Submitted</dt><dd data-total="submitted">{{submitted}}<small>accepted by Uservox</small></dd></div>
        <div class="card{{^equalzero(invalidCount)}} warn{{/equalzero(invalidCount)}}"><dt>Invalid</dt><dd data-total="invalid">{{invalid}}<small>{{invalidRate}} invalid rate, last {{sinceText}}</small></dd></div>
        <div class="card{{^equalzero(heldCount)}} bad{{/equalzero(heldCount)}}"><dt>Held</dt><dd data-total="held">{{held}}<small>waiting for an operator</small></dd></div>
        <div class="card"><dt>Throughput</dt><dd data-total="leads_per_second">{{leadsPerSecond}}<small>leads/s, {{requestsPerSecond}} req/s</small></dd></div>
        </dl>
        {{/totals}}{{/empty(lines)}}
        {{#empty(lines)}}<div class="banner warn"><strong>No projects yet</strong>A project appears with its first lead.</div>{{/empty(lines)}}
        {{^empty(lines)}}
        <div class="table-wrap">
        <table id="projects">
        <caption>Projects, worst first</caption>
        <thead><tr>
        <th scope="col">Project</th>
        <th scope="col" class="num">Pending</th><th scope="col" class="num">Retrying</th>
        <th scope="col" class="num">In flight</th><th scope="col" class="num">Submitted</th>
        <th scope="col" class="num">Invalid</th><th scope="col" class="num">Held</th>
        <th scope="col" class="num">Lag</th><th scope="col" class="num">Req/s</th><th scope="col" class="num">Leads/s</th>
        <th scope="col" class="num">Invalid %</th><th scope="col">Last success</th>
        </tr></thead>
        <tbody>
        {{#lines}}
        <tr class="{{health}}" data-project="{{id}}">
        <th scope="row"><a href="{{link}}">{{id}}</a> <span class="pill {{health}}">{{healthText}}</span>{{#paused}}<span class="why">paused: {{pauseReason}}</span>{{/paused}}</th>
        <td class="num" data-col="pending">{{pending}}</td>
        <td class="num" data-col="retrying">{{retrying}}</td>
        <td class="num" data-col="in_flight">{{inFlight}}</td>
        <td class="num" data-col="submitted">{{submitted}}</td>
        <td class="num" data-col="invalid">{{invalid}}</td>
        <td class="num{{#heldBreached}} breach{{/heldBreached}}" data-col="held">{{held}}</td>
        <td class="num{{#lagBreached}} breach{{/lagBreached}}" data-col="lag">{{lag}}</td>
        <td class="num" data-col="requests_per_second">{{requestsPerSecond}}</td>
        <td class="num" data-col="leads_per_second">{{leadsPerSecond}}</td>
        <td class="num{{#invalidBreached}} breach{{/invalidBreached}}" data-col="invalid_rate">{{invalidRate}}</td>
        <td data-col="last_success">{{lastSuccess}}</td>
        </tr>
        {{/lines}}
        </tbody>
        {{#totals}}
        <tfoot><tr data-project="">
        <th scope="row">Total <span class="muted">{{healthText}}</span></th>
        <td class="num" data-col="pending">{{pending}}</td><td class="num" data-col="retrying">{{retrying}}</td>
        <td class="num" data-col="in_flight">{{inFlight}}</td><td class="num" data-col="submitted">{{submitted}}</td>
        <td class="num" data-col="invalid">{{invalid}}</td><td class="num" data-col="held">{{held}}</td>
        <td class="num" data-col="lag">{{lag}}</td><td class="num" data-col="requests_per_second">{{requestsPerSecond}}</td>
        <td class="num" data-col="leads_per_second">{{leadsPerSecond}}</td><td class="num" data-col="invalid_rate">{{invalidRate}}</td>
        <td data-col="last_success">{{lastSuccess}}</td>
        </tr></tfoot>
        {{/totals}}
        </table>
        </div>
        {{/empty(lines)}}
        </div>
        {{/page}}
        """#

    static let project = #"""
        {{#page}}
        <div id="live">
        <p class="sub"><a href="/">Projects</a> /</p>
        <h1>{{id}}</h1>
        {{#paused}}<div class="banner warn" id="paused"><strong>Paused</strong>{{pauseReason}}{{^empty(pausedUntil)}} (until {{pausedUntil}}){{/empty(pausedUntil)}}</div>{{/paused}}
        <dl class="cards" id="figures">
        {{#figures}}<div class="card {{tone}}"><dt>{{label}}</dt><dd data-figure="{{key}}">{{value}}<small>{{note}}</small></dd></div>{{/figures}}
        </dl>
        {{#actions}}
        <div class="actions" aria-label="Actions">
        {{^paused}}<form method="post" action="/actions/pause"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="project" value="{{id}}">
        <label class="visually-hidden" for="pause-reason">Reason</label><input type="text" id="pause-reason" name="reason" placeholder="reason (optional)">
        <button class="danger" type="submit">Pause</button></form>{{/paused}}
        {{#paused}}<form method="post" action="/actions/resume"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="project" value="{{id}}">
        <button type="submit">Resume</button></form>{{/paused}}
        {{#hasHeld}}<form method="post" action="/actions/release"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="project" value="{{id}}">
        <label class="visually-hidden" for="release-reason">Held reason</label><select id="release-reason" name="reason"><option value="">every reason</option>{{#heldReasons}}<option value="{{.}}">{{.}}</option>{{/heldReasons}}</select>
        <button type="submit">Release held leads</button></form>{{/hasHeld}}
        </div>
        {{/actions}}
        <h2>Rate limit</h2>
        <div class="panel" id="rate-limit">
        <dl class="fields">
        <dt>Rate limit</dt><dd>{{rateLimitText}}</dd>
        {{#settings}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/settings}}
        </dl>
        </div>
        {{{rateGauge}}}
        <ul>{{#rateNotes}}<li>{{.}}</li>{{/rateNotes}}</ul>
        <h2>Last hour</h2>
        <div class="grid2">
        <div><p class="chart-title">Requests per second, by answer</p>{{{hourRequests}}}</div>
        <div><p class="chart-title">Leads per second</p>{{{hourLeads}}}</div>
        </div>
        <h2>Last 24 hours</h2>
        <div class="grid2">
        <div><p class="chart-title">Requests per second, by answer</p>{{{dayRequests}}}</div>
        <div><p class="chart-title">Leads per second</p>{{{dayLeads}}}</div>
        </div>
        <div class="grid2">
        <div><h2>Invalid by reason <a class="muted" href="{{invalidLink}}">list</a></h2>{{{invalidBars}}}</div>
        <div><h2>Held by reason <a class="muted" href="{{heldLink}}">list</a></h2>{{{heldBars}}}</div>
        </div>
        <h2>Last 50 requests</h2>
        {{#empty(attempts)}}<p class="none">No request yet.</p>{{/empty(attempts)}}
        {{^empty(attempts)}}
        <div class="table-wrap">
        <table id="attempts">
        <caption>Requests, newest first</caption>
        <thead><tr><th scope="col" class="num">Attempt</th><th scope="col">Started</th><th scope="col" class="num">Duration</th>
        <th scope="col">Outcome</th><th scope="col" class="num">HTTP</th><th scope="col" class="num">Leads</th>
        <th scope="col" class="num">Accepted</th><th scope="col" class="num">Rejected</th><th scope="col">Error</th></tr></thead>
        <tbody>
        {{#attempts}}<tr data-attempt="{{id}}"><th scope="row" class="num">{{id}}</th><td>{{started}}</td><td class="num">{{duration}}</td>
        <td><span class="swatch {{outcomeClass}}" aria-hidden="true"></span>{{outcome}}</td><td class="num">{{http}}</td><td class="num">{{leads}}</td>
        <td class="num">{{accepted}}</td><td class="num">{{rejected}}</td><td class="message">{{error}}</td></tr>
        {{/attempts}}
        </tbody>
        </table>
        </div>
        {{/empty(attempts)}}
        </div>
        {{/page}}
        """#

    static let lead = #"""
        {{#page}}
        <div id="live">
        <p class="sub"><a href="{{projectLink}}">{{projectId}}</a> /</p>
        <h1>Lead {{id}} <span class="pill {{statusClass}}" id="status">{{status}}</span></h1>
        {{#actions}}{{#canResubmit}}
        <div class="actions" aria-label="Actions">
        <form method="post" action="/actions/resubmit"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{id}}">
        <label for="rs-phone">phone</label><input type="text" id="rs-phone" name="phone" value="{{phone}}">
        <label for="rs-process">process_id</label><input type="text" id="rs-process" name="process_id" value="{{processId}}">
        <button type="submit">Resubmit as a new lead</button></form>
        </div>
        {{/canResubmit}}{{/actions}}
        {{^empty(marker)}}
        <h2>Invalid marker</h2>
        <div class="panel" id="marker"><dl class="fields names">{{#marker}}<dt>{{name}}</dt><dd>{{^empty(link)}}<a href="{{link}}">{{value}}</a>{{/empty(link)}}{{#empty(link)}}{{value}}{{/empty(link)}}</dd>{{/marker}}</dl></div>
        {{/empty(marker)}}
        {{^empty(related)}}
        <h2>Related leads</h2>
        <ul id="related">{{#related}}<li><a href="{{link}}">{{text}}</a></li>{{/related}}</ul>
        {{/empty(related)}}
        <h2>Fields</h2>
        <div class="panel" id="fields"><dl class="fields names">{{#fields}}<dt>{{name}}</dt><dd>{{^empty(link)}}<a href="{{link}}">{{value}}</a>{{/empty(link)}}{{#empty(link)}}{{value}}{{/empty(link)}}</dd>{{/fields}}</dl></div>
        <h2>Attempts</h2>
        {{#empty(history)}}<p class="none">This lead has not been in a request.</p>{{/empty(history)}}
        {{^empty(history)}}
        <div class="table-wrap">
        <table id="history">
        <caption>Every request that carried this lead, oldest first</caption>
        <thead><tr><th scope="col" class="num">Attempt</th><th scope="col">Started</th><th scope="col" class="num">Duration</th>
        <th scope="col" class="num">HTTP</th><th scope="col">Outcome</th><th scope="col">Result</th><th scope="col">Message</th></tr></thead>
        <tbody>
        {{#history}}<tr><th scope="row" class="num">{{attempt}}</th><td>{{started}}</td><td class="num">{{duration}}</td><td class="num">{{http}}</td>
        <td><span class="swatch {{outcomeClass}}" aria-hidden="true"></span>{{outcome}}</td><td>{{result}}</td><td class="message">{{message}}</td></tr>{{/history}}
        </tbody>
        </table>
        </div>
        {{/empty(history)}}
        </div>
        {{/page}}
        """#

    static let search = #"""
        {{#page}}
        <h1>Find a lead</h1>
        <p class="sub">By id, <code>reference_id</code> (or <code>ls-&lt;id&gt;</code>), or phone (the lead holding the number in each project).</p>
        {{#empty(query)}}<p>Type an id, a reference or a phone in the search box above.</p>{{/empty(query)}}
        {{^empty(query)}}
        {{#empty(matches)}}<div class="banner warn" id="no-match"><strong>No lead matches</strong>“{{query}}”</div>{{/empty(matches)}}
        {{^empty(matches)}}<p>Leads matching “{{query}}”:</p><ul id="matches">{{#matches}}<li><a href="{{link}}">lead {{id}}</a></li>{{/matches}}</ul>{{/empty(matches)}}
        {{/empty(query)}}
        {{/page}}
        """#

    static let list = #"""
        {{#page}}
        <div id="live">
        <h1>{{title}}</h1>
        <p class="sub">{{filterText}}; newest first, {{total}} in all.</p>
        <form class="filters" method="get" action="{{path}}">
        <label>Project<select name="project">{{#projectOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/projectOptions}}</select></label>
        <label>Reason<select name="reason">{{#reasonOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/reasonOptions}}</select></label>
        <button type="submit">Filter</button>
        <span class="muted">Export: <a href="{{csvLink}}" id="export-csv">CSV</a> · <a href="{{jsonLink}}" id="export-json">JSON</a></span>
        </form>
        {{^empty(totals)}}<ul class="totals" aria-label="By reason">{{#totals}}<li><a href="{{link}}"><span class="code">{{reason}}</span> <strong data-reason-count="{{reason}}">{{count}}</strong></a></li>{{/totals}}</ul>{{/empty(totals)}}
        {{#actions}}{{#canRelease}}
        <div class="actions"><form method="post" action="/actions/release"><input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="project" value="{{project}}"><input type="hidden" name="reason" value="{{reason}}">
        <button type="submit">Release these held leads ({{filterText}})</button></form></div>
        {{/canRelease}}{{/actions}}
        {{#empty(rows)}}<p class="none" id="empty">Nothing here.</p>{{/empty(rows)}}
        {{^empty(rows)}}
        <div class="table-wrap">
        <table id="list">
        <caption>{{title}}, {{filterText}}</caption>
        <thead><tr>{{#columns}}<th scope="col">{{.}}</th>{{/columns}}</tr></thead>
        <tbody>
        {{#rows}}<tr data-lead="{{leadId}}"><th scope="row"><a href="{{leadLink}}">{{leadId}}</a></th>{{#cells}}<td class="{{cssClass}}" data-label="{{label}}">{{#link}}<a href="{{link}}">{{text}}</a>{{/link}}{{^link}}{{text}}{{/link}}</td>{{/cells}}</tr>
        {{/rows}}
        </tbody>
        </table>
        </div>
        {{/empty(rows)}}
        <nav class="pager" aria-label="Pages">{{#firstLink}}<a href="{{firstLink}}">Newest</a>{{/firstLink}}{{#nextLink}}<a href="{{nextLink}}" id="next">Older →</a>{{/nextLink}}</nav>
        </div>
        {{/page}}
        """#

    static let message = #"""
        {{#page}}
        <div class="banner {{tone}}" id="message"><strong>{{heading}}</strong>{{text}}</div>
        <p><a href="{{back}}">Back</a></p>
        {{/page}}
        """#

    static let login = #"""
        {{#page}}
        <h1>Sign in for actions</h1>
        <p class="sub">Pause, resume, release and resubmit need the console's token (<code>LEADSYNC_CONSOLE_TOKEN</code>).</p>
        {{#failed}}<div class="banner bad" id="message"><strong>Not signed in</strong>That is not the console's token.</div>{{/failed}}
        <form method="post" action="/login" class="actions"><label for="token">Token</label>
        <input type="password" id="token" name="token" autocomplete="current-password" required>
        <button type="submit">Sign in</button></form>
        {{/page}}
        """#

    static let actionResult = #"""
        {{#page}}
        <div class="banner {{tone}}" id="message" role="status"><strong>{{heading}}</strong>{{text}}</div>
        <p><a href="{{back}}">Back</a></p>
        {{/page}}
        """#
}
