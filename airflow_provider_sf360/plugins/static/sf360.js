/* The "Salesforce 360" page: search, filter, sort, incremental loading, bulk Test access with bounded
   concurrency, and the Salesforce sign-in in a new tab when the page runs inside Airflow's iframe. */
(function () {
  "use strict";
  var body = document.body;
  var base = body.dataset.base || "";
  var pageSize = parseInt(body.dataset.pageSize || "50", 10);
  var concurrency = parseInt(body.dataset.concurrency || "4", 10);
  var framed = window.parent !== window;
  var tbody = document.querySelector("#fleet tbody");
  if (!tbody) return;
  var rows = Array.prototype.slice.call(tbody.querySelectorAll("tr[data-status]"));
  var q = document.getElementById("q");
  var filter = document.getElementById("status-filter");
  var count = document.getElementById("count");
  var more = document.getElementById("show-more");
  var selectAll = document.getElementById("select-all");
  var testSelected = document.getElementById("test-selected");
  var testAll = document.getElementById("test-all");
  var csrf = document.querySelector('#act input[name="csrf_token"]').value;
  var shown = pageSize;
  var matching = [];
  var channel = "BroadcastChannel" in window ? new BroadcastChannel("sf360") : null;

  // ------------------------------------------------------------------ search, filter, incremental loading
  function apply() {
    var text = q.value.trim().toLowerCase();
    var status = filter.value;
    matching = [];
    for (var i = 0; i < rows.length; i++) {
      var tr = rows[i];
      var ok = (!status || tr.dataset.status === status) && (!text || tr.dataset.search.indexOf(text) !== -1);
      if (ok) matching.push(tr);
      tr.hidden = !ok || matching.length > shown;
    }
    var visible = Math.min(matching.length, shown);
    count.textContent = matching.length === rows.length
      ? visible + " of " + rows.length + " shown"
      : matching.length + " of " + rows.length + " match" + (visible < matching.length ? " (" + visible + " shown)" : "");
    more.hidden = visible >= matching.length;
    more.textContent = "Show " + Math.min(pageSize, matching.length - visible) + " more (" + (matching.length - visible) + " left)";
    updateSelection();
  }
  q.addEventListener("input", function () { shown = pageSize; apply(); });
  filter.addEventListener("change", function () { shown = pageSize; apply(); });
  more.addEventListener("click", function () { shown += pageSize; apply(); });
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && document.activeElement !== q && !/INPUT|SELECT|TEXTAREA/.test(document.activeElement.tagName)) {
      e.preventDefault(); q.focus();
    } else if (e.key === "Escape" && document.activeElement === q) {
      q.value = ""; shown = pageSize; apply();
    }
  });

  // ------------------------------------------------------------------ sort
  var keys = {
    id: function (tr) { return (tr.dataset.connId || "~" + tr.dataset.orphan).toLowerCase(); },
    org: function (tr) { return tr.dataset.org || ""; },
    user: function (tr) { return (tr.dataset.user || "").toLowerCase(); },
    status: function (tr) { return tr.dataset.status; },
    setup: function (tr) { return parseFloat(tr.dataset.setup) || 0; },
    tested: function (tr) { return parseFloat(tr.dataset.tested) || 0; }
  };
  Array.prototype.forEach.call(document.querySelectorAll("button.sort"), function (button) {
    button.addEventListener("click", function () {
      var th = button.parentElement;
      var descending = th.getAttribute("aria-sort") === "ascending";
      Array.prototype.forEach.call(document.querySelectorAll("#fleet thead th"), function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var key = keys[button.dataset.sort];
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = x < y ? -1 : x > y ? 1 : 0;
        return descending ? -order : order;
      });
      var fragment = document.createDocumentFragment();
      rows.forEach(function (tr) { fragment.appendChild(tr); });
      tbody.appendChild(fragment);
      apply();
    });
  });

  // ------------------------------------------------------------------ selection and bulk Test access
  function picks() {
    return matching.filter(function (tr) { var box = tr.querySelector("input.pick"); return box && box.checked && !box.disabled; });
  }
  function testable(tr) { var box = tr.querySelector("input.pick"); return box && !box.disabled && tr.querySelector(".js-test"); }
  function updateSelection() { testSelected.disabled = picks().length === 0; }
  tbody.addEventListener("change", function (e) { if (e.target.classList.contains("pick")) updateSelection(); });
  selectAll.addEventListener("change", function () {
    matching.forEach(function (tr) { if (!tr.hidden) { var box = tr.querySelector("input.pick"); if (box && !box.disabled) box.checked = selectAll.checked; } });
    updateSelection();
  });

  function post(url, fields) {
    var form = new URLSearchParams(fields || {});
    form.set("csrf_token", csrf);
    return fetch(url, {method: "POST", body: form, credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (answer) {
        return answer.json().catch(function () { return {}; }).then(function (data) {
          if (!answer.ok) throw new Error(data.detail || ("HTTP " + answer.status));
          return data;
        });
      });
  }

  function label(status) { return status === "not_set_up" ? "not set up" : status === "invalid" ? "invalid connection" : status.replace(/_/g, " "); }

  function showResult(tr, data) {
    var badge = tr.querySelector('[data-field="status"]');
    if (badge && data.status) {
      badge.className = "badge b-" + data.status;
      badge.textContent = label(data.status);
      tr.dataset.status = data.status;
    }
    var cell = tr.querySelector('[data-field="last_test"]');
    if (cell) {
      var ok = data.ok === true;
      cell.title = data.message || "";
      cell.innerHTML = "";
      var result = document.createElement("span");
      result.className = "badge " + (ok ? "b-active" : "b-revoked");
      result.textContent = ok ? "succeeded" : "failed";
      var when = document.createElement("span");
      when.className = "muted";
      when.textContent = " just now";
      cell.appendChild(result); cell.appendChild(when);
      tr.dataset.tested = String(Date.now() / 1000);
    }
  }

  function flash(ok, message) {
    var slot = document.getElementById("flash-slot");
    slot.innerHTML = "";
    var div = document.createElement("div");
    div.className = "flash " + (ok ? "ok" : "err");
    div.setAttribute("role", ok ? "status" : "alert");
    div.dataset.testid = "flash";
    div.setAttribute("data-testid", "flash");
    div.textContent = message;
    slot.appendChild(div);
  }

  function runTests(list) {
    if (!list.length) return;
    var bulk = document.getElementById("bulk");
    var bar = document.getElementById("bulk-progress");
    var text = document.getElementById("bulk-text");
    var next = 0, done = 0, passed = 0, failed = [];
    bulk.hidden = false; bar.max = list.length; bar.value = 0;
    testAll.disabled = true; testSelected.disabled = true;
    text.textContent = "Testing 0 of " + list.length + "...";
    function worker() {
      if (next >= list.length) return Promise.resolve();
      var tr = list[next++];
      var button = tr.querySelector(".js-test");
      button.classList.add("busy");
      return post(button.getAttribute("formaction"))
        .then(function (data) { showResult(tr, data); if (data.ok) passed++; else failed.push(tr.dataset.connId); },
              function () { failed.push(tr.dataset.connId); })
        .then(function () {
          button.classList.remove("busy");
          done++; bar.value = done;
          text.textContent = "Testing " + done + " of " + list.length + "...";
          return worker();
        });
    }
    var workers = [];
    for (var i = 0; i < Math.min(concurrency, list.length); i++) workers.push(worker());
    return Promise.all(workers).then(function () {
      text.textContent = "Tested " + list.length + ": " + passed + " succeeded, " + failed.length + " failed" +
        (failed.length ? " (" + failed.slice(0, 10).join(", ") + (failed.length > 10 ? ", ..." : "") + ")" : "") + ".";
      text.dataset.done = "1";
      testAll.disabled = false; updateSelection();
    });
  }
  testSelected.addEventListener("click", function () { runTests(picks().filter(testable)); });
  testAll.addEventListener("click", function () { runTests(matching.filter(testable)); });

  // Single Test: the same JSON call, no page reload (keeps search, filter and scroll).
  tbody.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest(".js-test");
    if (!button || !framed) return;
    e.preventDefault();
    var tr = button.closest("tr");
    button.classList.add("busy");
    post(button.getAttribute("formaction")).then(function (data) {
      showResult(tr, data); flash(!!data.ok, data.message || "");
    }, function (error) { flash(false, String(error.message || error)); })
      .then(function () { button.classList.remove("busy"); });
  });

  // Diagnose: the checks as a list under the flash (each failing or doubtful one with where to fix it).
  function showDiagnosis(data) {
    flash(!!data.ok, data.ok ? "Diagnosis: no problem found." : "Diagnosis: problems found.");
    var list = document.createElement("ul");
    list.className = "diagnosis";
    list.setAttribute("data-testid", "diagnosis");
    (data.checks || []).forEach(function (check) {
      var item = document.createElement("li");
      item.className = "v-" + check.verdict;
      item.textContent = check.verdict.toUpperCase() + " " + check.name + ": " + check.message +
        (check.fix && check.verdict !== "ok" ? " Fix: " + check.fix : "");
      list.appendChild(item);
    });
    document.getElementById("flash-slot").firstChild.appendChild(list);
  }
  tbody.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest(".js-diagnose");
    if (!button) return;
    e.preventDefault();
    button.classList.add("busy");
    post(button.getAttribute("formaction")).then(showDiagnosis, function (error) { flash(false, String(error.message || error)); })
      .then(function () { button.classList.remove("busy"); });
  });

  // ------------------------------------------------------------------ inside Airflow's iframe
  // Airflow 3.3 frames plugin pages with sandbox="allow-scripts allow-same-origin allow-forms allow-downloads":
  // no popups, no top navigation. Salesforce refuses to be framed, so the sign-in goes to a new tab opened by
  // Airflow's own (same-origin, unsandboxed) document: an anchor there, clicked during the user's gesture.
  function openFromParent(url, target) {
    try {
      var doc = window.parent.document;
      var a = doc.createElement("a");
      a.href = url; a.target = target; a.rel = "noopener";
      doc.body.appendChild(a); a.click(); a.remove();
      return true;
    } catch (e) { return false; }
  }
  if (framed) {
    Array.prototype.forEach.call(document.querySelectorAll("a.js-parent"), function (a) {
      a.addEventListener("click", function (e) { if (openFromParent(a.href, "_top")) e.preventDefault(); });
    });
    tbody.addEventListener("click", function (e) {
      var button = e.target.closest && e.target.closest(".js-setup");
      if (!button) return;
      e.preventDefault();
      var tr = button.closest("tr");
      button.classList.add("busy");
      post(button.getAttribute("formaction")).then(function (data) {
        if (data.redirect) {
          if (openFromParent(data.redirect, "_blank")) {
            flash(true, "Sign in to Salesforce in the new tab and click Allow; this row updates when you are done.");
          } else {
            flash(false, "The browser blocked the new tab; open this page outside Airflow's frame to set up.");
          }
        } else {
          flash(!!data.ok, data.message || ""); if (data.status) showResult(tr, {status: data.status});
        }
      }, function (error) { flash(false, String(error.message || error)); })
        .then(function () { button.classList.remove("busy"); });
    });
    if (channel) {
      channel.onmessage = function (e) {
        if (!e.data || e.data.type !== "sf360-signin") return;
        try { sessionStorage.setItem("sf360_flash", JSON.stringify(e.data)); } catch (err) {}
        location.reload();
      };
    }
    try {
      var kept = sessionStorage.getItem("sf360_flash");
      if (kept) { sessionStorage.removeItem("sf360_flash"); kept = JSON.parse(kept); flash(!!kept.ok, kept.message); }
    } catch (err) {}
  } else if (channel && body.dataset.signinDone === "1") {
    var shownFlash = document.querySelector('[data-testid="flash"]');
    if (shownFlash) {
      var message = shownFlash.firstChild ? shownFlash.firstChild.textContent : shownFlash.textContent;
      channel.postMessage({type: "sf360-signin", ok: shownFlash.dataset.ok === "1", message: message});
    }
  }

  apply();
})();
