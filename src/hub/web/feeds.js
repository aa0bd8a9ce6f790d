/*
 * The hub's feeds page: every subscription's AggregatorV3Interface feed with its latest verified rounds, from
 * GET /api/feeds, refreshed every 5 seconds. No framework and no network but this server. All data is inserted with
 * textContent (see el()), never as HTML.
 */
"use strict";
(function () {
  var REFRESH_MS = 5000;
  var STATUS = ["none", "active", "cancelled"];
  var $ = function (id) {
    return document.getElementById(id);
  };

  /** Creates an element with attributes and children (strings become text nodes). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  /** An answer with `decimals` decimals, from its decimal string. */
  function value(answer, decimals) {
    var negative = answer.charAt(0) === "-";
    var digits = (negative ? answer.slice(1) : answer).padStart(decimals + 1, "0");
    var text = decimals === 0 ? digits : digits.slice(0, -decimals) + "." + digits.slice(-decimals);
    return (negative ? "-" : "") + text;
  }
  function time(seconds) {
    return new Date(Number(seconds) * 1000)
      .toISOString()
      .replace("T", " ")
      .replace(/\.000Z$/, " UTC");
  }
  /** The chain's time of the last answer (ages are against it: a local chain's clock may differ from the browser's). */
  var chainTime = null;
  function ago(seconds) {
    var now = chainTime === null ? Date.now() / 1000 : chainTime;
    var s = Math.max(0, Math.round(now - Number(seconds)));
    return s < 120 ? s + " s ago" : Math.round(s / 60) + " min ago";
  }

  function feedCard(f) {
    var latest = f.latest;
    var state = f.state || {};
    var rows = (f.recent || []).map(function (r) {
      return el("tr", {}, [
        el("td", { text: r.roundId }),
        el("td", { class: "num", text: value(r.answer, f.decimals) }),
        el("td", { text: time(r.startedAt) }),
        el("td", { text: ago(r.updatedAt) }),
        el("td", { text: r.jobId === undefined ? "" : "job " + r.jobId }),
      ]);
    });
    return el("article", { class: "feed", "data-feed": f.feed }, [
      el("h2", { text: f.description || "Subscription " + f.subscriptionId }),
      el("p", {}, [
        el("strong", {
          class: "feed-latest",
          text: latest ? value(latest.answer, f.decimals) : "no verified answer yet",
        }),
        latest ? " · round " + latest.roundId + ", updated " + ago(latest.updatedAt) : "",
      ]),
      el("p", {
        text:
          "Model " +
          f.modelId +
          "@" +
          f.version +
          " · " +
          f.mode.toUpperCase() +
          " · " +
          f.redundancy +
          " node(s) per round · a round every " +
          f.period +
          " s · " +
          (STATUS[state.status] || "") +
          " · " +
          (state.nextRound || "0") +
          "/" +
          f.rounds +
          " rounds started",
      }),
      el("p", {}, ["Feed ", el("code", { text: f.feed }), " · subscription " + f.subscriptionId]),
      el("table", { class: "feed-rounds" }, [
        el("thead", {}, [
          el("tr", {}, [
            el("th", { text: "Round" }),
            el("th", { text: "Answer" }),
            el("th", { text: "Input as of" }),
            el("th", { text: "Verified" }),
            el("th", { text: "Settlement" }),
          ]),
        ]),
        el("tbody", {}, rows),
      ]),
    ]);
  }

  function refresh() {
    fetch("/api/feeds", { headers: { accept: "application/json" } })
      .then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok) throw new Error(body && body.message ? body.message : "HTTP " + res.status);
          return body;
        });
      })
      .then(function (body) {
        chainTime = body.chainTime;
        $("feeds-status").textContent =
          body.feeds.length === 0
            ? "No subscriptions yet."
            : body.feeds.length +
              " feed(s) of manager " +
              body.manager +
              ", updated " +
              new Date().toLocaleTimeString();
        $("feeds").replaceChildren.apply($("feeds"), body.feeds.map(feedCard));
      })
      .catch(function (error) {
        $("feeds-status").textContent = "Feeds unavailable: " + error.message;
      })
      .finally(function () {
        setTimeout(refresh, REFRESH_MS);
      });
  }

  refresh();
})();
