/*
 * The hub's web page: search with filters and sort, results with provenance, a model page with its card,
 * versions, files (with the providers serving each, when the hub probes), verification modes, verified usage and a
 * request snippet (for a text-generation model, how to chat with it instead), and the network's concentration. No
 * framework and no network but this server. All data is inserted with textContent (see el()), never as HTML.
 */
"use strict";
(function () {
  var MODE_NAMES = {}; // by number, read from the mode filter's options (the server writes them from the core list)
  var PAGE_SIZE = 10;
  var FORM_FIELDS = ["q", "task", "license", "library", "language", "mode", "minUsage", "sort"];
  var config = { chainId: null, escrow: null, token: null, registry: null };
  var $ = function (id) {
    return document.getElementById(id);
  };

  /** Creates an element with attributes and children (strings become text nodes). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "href") node.setAttribute("href", safeHref(attrs[key]));
      else node.setAttribute(key, attrs[key]);
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  /** Only in-page links: every href the page builds starts with "#/". */
  function safeHref(href) {
    return /^#\//.test(href) ? href : "#/";
  }

  function modeName(m) {
    return MODE_NAMES[m] || "mode " + m;
  }
  function short(hex) {
    return hex.length > 18 ? hex.slice(0, 10) + "…" + hex.slice(-6) : hex;
  }
  function tokens(wei) {
    try {
      var v = BigInt(wei),
        unit = 10n ** 18n,
        frac = (v % unit).toString().padStart(18, "0").replace(/0+$/, "");
      return (v / unit).toString() + (frac ? "." + frac : "");
    } catch (e) {
      return String(wei);
    }
  }
  /** "1 token", "0.5 tokens", "12 tokens". */
  function tokenAmount(wei) {
    var amount = tokens(wei);
    return amount + (amount === "1" ? " token" : " tokens");
  }
  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }
  /** "12 verified jobs · 34.5 tokens paid", then "(3 below the usage floor, not counted)" if any. */
  function usageText(verifiedJobs, paidVolume, belowFloorJobs) {
    var text = plural(verifiedJobs, "verified job", "verified jobs") + " · " + tokenAmount(paidVolume) + " paid";
    return belowFloorJobs > 0 ? text + " (" + belowFloorJobs + " below the usage floor, not counted)" : text;
  }

  function getJson(url) {
    return fetch(url, { headers: { accept: "application/json" } }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body && body.message ? body.message : "HTTP " + res.status);
        return body;
      });
    });
  }

  /* ROUTING: #/?q=…&task=… is the search, #/model/7 a model, #/network the network's concentration. */

  function route() {
    var hash = location.hash || "#/";
    var model = /^#\/model\/(\d{1,16})$/.exec(hash);
    var network = hash === "#/network";
    $("search-view").hidden = !!model || network;
    $("model-view").hidden = !model;
    $("network-view").hidden = !network;
    if (network) return showNetwork();
    if (model) return showModel(model[1]);
    var params = new URLSearchParams(hash.indexOf("?") >= 0 ? hash.slice(hash.indexOf("?") + 1) : "");
    FORM_FIELDS.forEach(function (name) {
      $(name).value = params.get(name) || (name === "sort" ? "relevance" : "");
    });
    search(params);
  }

  function formParams(page) {
    var params = new URLSearchParams();
    FORM_FIELDS.forEach(function (name) {
      var value = $(name).value.trim();
      if (value !== "" && !(name === "sort" && value === "relevance")) params.set(name, value);
    });
    if (page > 1) params.set("page", String(page));
    return params;
  }

  function go(params) {
    var next = "#/?" + params.toString();
    if (location.hash === next) route();
    else location.hash = next;
  }

  /* SEARCH */

  function search(params) {
    params.set("pageSize", String(PAGE_SIZE));
    var page = Number(params.get("page") || "1");
    $("status").textContent = "Searching…";
    getJson("/api/search?" + params.toString())
      .then(function (result) {
        var list = $("results");
        list.replaceChildren();
        result.hits.forEach(function (hit) {
          list.appendChild(hitItem(hit));
        });
        $("status").textContent =
          result.hits.length === 0
            ? "No models found."
            : result.relaxed
              ? "Showing models matching some of the words."
              : "";
        $("page").textContent = "Page " + result.page;
        $("prev").disabled = page <= 1;
        $("next").disabled = !result.hasMore;
        $("prev").onclick = function () {
          go(formParams(page - 1));
        };
        $("next").onclick = function () {
          go(formParams(page + 1));
        };
      })
      .catch(function (error) {
        $("results").replaceChildren();
        $("status").textContent = "Search failed: " + error.message;
      });
  }

  function hitItem(hit) {
    return el("li", { class: "hit", "data-model": String(hit.modelId) }, [
      el("h2", {}, [
        el("a", { href: "#/model/" + hit.modelId, text: hit.name }),
        " ",
        el("span", { class: "meta", text: "v" + hit.version }),
      ]),
      el("div", { class: "meta" }, [
        el("span", { text: hit.task }),
        el("span", {
          class: "license",
          text: (hit.licenses && hit.licenses.length > 0 ? hit.licenses : [hit.license]).join(", "),
        }),
        hit.library ? el("span", { text: hit.library }) : null,
        el(
          "span",
          {},
          hit.modes.map(function (m) {
            return el("span", { class: "badge", text: modeName(m) });
          }),
        ),
        el("span", { class: "usage", text: usageText(hit.verifiedJobs, hit.paidVolume, hit.belowFloorJobs) }),
        el("span", { class: "price", text: tokenAmount(hit.price) + " / inference" }),
      ]),
      el("p", { text: hit.summary }),
      el("div", { class: "prov" }, [
        "Model " +
          hit.modelId +
          " · owner " +
          hit.owner +
          " · published by " +
          hit.publisher +
          " in block " +
          hit.publishedBlock,
        el("br"),
        "card " + hit.cardCid + " · SHA-256 " + hit.cardHash,
      ]),
    ]);
  }

  /* MODEL PAGE */

  function showModel(id) {
    var root = $("model");
    root.replaceChildren(el("p", { text: "Loading model " + id + "…" }));
    getJson("/api/models/" + id)
      .then(function (model) {
        root.replaceChildren.apply(root, modelPage(model));
      })
      .catch(function (error) {
        root.replaceChildren(el("p", { class: "warn", text: "Cannot load model " + id + ": " + error.message }));
      });
  }

  function modelPage(model) {
    var current =
      model.versions.find(function (v) {
        return v.version === model.searchVersion;
      }) ||
      model.versions.find(function (v) {
        return v.card !== null;
      }) ||
      model.versions[0];
    var card = current && current.card;
    var nodes = [
      el("h1", { id: "model-name", text: card ? card.name : "Model " + model.modelId }),
      el("div", { class: "meta" }, [
        el("span", { text: "Model " + model.modelId }),
        card ? el("span", { text: card.task }) : null,
        card ? el("span", { class: "license", text: (card.licenses || [card.license]).join(", ") }) : null,
        card && card.library ? el("span", { text: card.library }) : null,
        el("span", { class: "price", text: tokenAmount(model.price) + " / inference" }),
        el("span", { text: "owner " + model.owner }),
      ]),
      el("p", {
        class: "usage",
        id: "model-usage",
        text: usageText(model.verifiedJobs, model.paidVolume, model.belowFloorJobs) + " over all versions",
      }),
    ];
    if (current) nodes.push(evaluationSummary(current));
    if (card) {
      nodes.push(
        el("p", {
          class: "self-reported",
          id: "card-label",
          text: "Model card, as its publisher wrote it: any figure in it (accuracy, errors) is self-reported, not verified. Verified evaluations are listed with each version below.",
        }),
      );
      var body = el("article", { class: "card", id: "card" });
      body.appendChild(window.renderMarkdown(card.body));
      nodes.push(body);
    } else {
      nodes.push(
        el("p", {
          class: "warn",
          text: "No verified model card: the card could not be fetched or does not match its on-chain hash.",
        }),
      );
    }
    if (current) nodes.push(isTextModel(current) ? chatSection(model, current) : requestSection(model, current));
    nodes.push(el("h2", { text: "Versions" }));
    model.versions.forEach(function (v) {
      nodes.push(versionSection(v));
    });
    return nodes;
  }

  function versionSection(v) {
    var usage = v.modes
      .map(function (m) {
        var u = v.usage.find(function (x) {
          return x.mode === m;
        });
        return modeName(m) + ": " + (u ? u.jobs : 0);
      })
      .join(", ");
    var below = v.belowFloorJobs > 0 ? " (" + v.belowFloorJobs + " below the usage floor, not counted)" : "";
    return el(
      "section",
      { class: "version", "data-version": String(v.version) },
      [
        el("h3", { text: "Version " + v.version + (v.deprecated ? " (deprecated)" : "") }),
        el("div", { class: "meta" }, [
          el("span", {
            text: "published " + new Date(v.publishedAt * 1000).toISOString() + " in block " + v.publishedBlock,
          }),
          el("span", { text: "by " + v.publisher }),
        ]),
        el(
          "p",
          {},
          ["Verification modes: "].concat(
            v.modes.map(function (m) {
              return el("span", { class: "badge", text: modeName(m) });
            }),
          ),
        ),
        el("p", {
          class: "usage",
          text:
            "Verified inferences: " +
            v.verifiedJobs +
            " (" +
            usage +
            ") · " +
            tokenAmount(v.paidVolume) +
            " paid" +
            below,
        }),
        el("p", {
          class: "prov",
          text: "Card " + v.cardCid + " · SHA-256 " + v.cardHash + (v.card ? " · verified" : " · not verified"),
        }),
      ]
        .concat(v.tee ? [teeTable(v.tee)] : [])
        .concat(v.evaluations && v.evaluations.length > 0 ? [evaluationTable(v.evaluations)] : [])
        .concat(v.retrievability ? [retrievabilitySummary(v.retrievability)] : [])
        .concat([filesTable(v.files, v.retrievability)]),
    );
  }

  /** "Probed" times as people compare them: UTC, to the second. */
  function probeTime(seconds) {
    return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
  }

  /** A version's providers at its least-served file, as last probed, and the warning under two. */
  function retrievabilitySummary(r) {
    if (r.providers === null)
      return el("p", {
        class: "retrievability",
        text: "Providers: not probed yet (the hub probes every file on a schedule).",
      });
    var text =
      "Served by " +
      plural(r.providers, "independent provider", "independent providers") +
      (r.files.length > 1 ? " at its least-served file" : "") +
      " (last probed " +
      probeTime(r.probedAt) +
      "; providers announcing the same libp2p peer id count once; one party running two peers counts twice).";
    if (!r.warning) return el("p", { class: "retrievability", text: text });
    return el("p", { class: "retrievability warn", role: "alert" }, [
      el("strong", { text: "Warning: fewer than two independent providers" }),
      " serve every file of this version: " +
        (r.providers === 0
          ? "no provider served a file at the last probe, so it cannot be fetched from peers now. "
          : "if its one provider goes away, it cannot be fetched. ") +
        text,
    ]);
  }

  /** The version's files; when the hub probes, with the providers serving each and the time of its last probe. */
  function filesTable(files, r) {
    var head = ["File", "CID", "SHA-256"].concat(r ? ["Providers serving it", "Last probe"] : []);
    return el("table", { class: "files" }, [
      el("thead", {}, [
        el(
          "tr",
          {},
          head.map(function (h) {
            return el("th", { text: h });
          }),
        ),
      ]),
      el(
        "tbody",
        {},
        files.map(function (f, i) {
          var p = r && r.files[i];
          return el(
            "tr",
            {},
            [
              el("td", { text: f.path }),
              el("td", { class: "hash", text: f.cid }),
              el("td", { class: "hash", text: f.sha256 }),
            ].concat(
              p
                ? [providersCell(p), el("td", { text: p.probedAt === null ? "not probed yet" : probeTime(p.probedAt) })]
                : [],
            ),
          );
        }),
      ),
    ]);
  }

  /**
   * "2 independent: 0xab…, http://gw", then the labels counted as one (the same peer id), then per provider that did
   * not serve it, its label and why.
   */
  function providersCell(p) {
    if (p.probedAt === null) return el("td", { class: "providers", text: "not probed yet" });
    var failed = p.probes.filter(function (x) {
      return !x.ok;
    });
    var shared = (p.shared || []).map(function (g) {
      return el("div", { class: "probe-shared", text: "counted once (same peer): " + g.labels.join(", ") });
    });
    return el(
      "td",
      { class: p.independent < 2 ? "providers warn" : "providers" },
      [p.independent + " independent" + (p.providers.length === 0 ? " (none)" : ": " + p.providers.join(", "))]
        .concat(shared)
        .concat(
          failed.map(function (x) {
            return el("div", { class: "probe-failed", text: "not from " + x.label + ": " + x.reason });
          }),
        ),
    );
  }

  /** A metric value (fixed point, 10^6 per unit) as people read it: accuracy as a percentage, errors in the target's unit. */
  function metricValue(dataset, value) {
    var v = Number(value) / 1e6;
    return dataset.higherIsBetter ? (v * 100).toFixed(2) + "%" : v.toFixed(4);
  }

  /** "accuracy 94.18% on seattle-weather-mlp held-out (292 rows); trivial baseline 94.52%: not better". */
  function evaluationText(e) {
    return (
      e.dataset.metric +
      " " +
      metricValue(e.dataset, e.value) +
      " on " +
      e.dataset.name +
      " (" +
      plural(e.dataset.rowCount, "row", "rows") +
      "); trivial baseline " +
      metricValue(e.dataset, e.dataset.baselineValue) +
      ": " +
      (e.beatsBaseline ? "better than the baseline" : "NOT better than the baseline") +
      (e.valid ? "" : " (its enclave has since been revoked: no longer verified)")
    );
  }

  /** Beside the verified usage: the current version's verified evaluations, or that it has none. */
  function evaluationSummary(version) {
    var evaluations = version.evaluations || [];
    if (evaluations.length === 0)
      return el("p", {
        class: "evaluations",
        id: "model-evaluations",
        text: "Version " + version.version + " has no verified evaluation: the card's figures are self-reported.",
      });
    return el(
      "p",
      { class: "evaluations", id: "model-evaluations" },
      ["Verified (version " + version.version + ", TEE): "].concat(
        evaluations.map(function (e, i) {
          return el("span", {
            class: e.beatsBaseline && e.valid ? "" : "warn",
            text: (i > 0 ? "; " : "") + evaluationText(e),
          });
        }),
      ),
    );
  }

  /** A version's verified evaluations: the dataset and its split, the metric beside the trivial baseline, and how it was computed. */
  function evaluationTable(evaluations) {
    return el("table", { class: "evaluations" }, [
      el("caption", { text: "Verified evaluations (computed and signed in an attested enclave, recorded on-chain)" }),
      el("thead", {}, [
        el(
          "tr",
          {},
          ["Dataset", "Metric", "This version", "Trivial baseline", "Method"].map(function (h) {
            return el("th", { text: h });
          }),
        ),
      ]),
      el(
        "tbody",
        {},
        evaluations.map(function (e) {
          return el("tr", {}, [
            el("td", {}, [
              el("div", {
                text:
                  "#" +
                  e.dataset.datasetId +
                  " " +
                  e.dataset.name +
                  " (" +
                  plural(e.dataset.rowCount, "row", "rows") +
                  ")",
              }),
              el("div", { class: "prov", text: e.dataset.split }),
              el("div", { class: "hash", text: e.dataset.rowsCid }),
            ]),
            el("td", {
              text: e.dataset.metric + (e.dataset.higherIsBetter ? " (higher is better)" : " (lower is better)"),
            }),
            el("td", {
              class: e.beatsBaseline ? "" : "warn",
              text: metricValue(e.dataset, e.value) + (e.beatsBaseline ? "" : " (not better than the baseline)"),
            }),
            el("td", { text: metricValue(e.dataset, e.dataset.baselineValue) + " — " + e.dataset.baseline }),
            el("td", {}, [
              el("div", {
                text:
                  "TEE enclave " +
                  short(e.enclave) +
                  " of operator " +
                  short(e.operator) +
                  (e.valid ? "" : " — REVOKED since, no longer verified"),
              }),
              el("div", { class: "hash", text: "measurement " + e.measurement }),
              el("div", {
                class: "prov",
                text:
                  "request " + e.requestId + ", block " + e.block + ", " + new Date(e.evaluatedAt * 1000).toISOString(),
              }),
            ]),
          ]);
        }),
      ),
    ]);
  }

  /** The TEE binding: each accepted measurement, whether TeeVerifier revoked it, and its unexpired registered enclaves. */
  function teeTable(tee) {
    return el("table", { class: "tee" }, [
      el("caption", {
        text:
          "TEE measurements" +
          (tee.asOf === null ? "" : " (enclaves as of " + new Date(tee.asOf * 1000).toISOString() + ")"),
      }),
      el("thead", {}, [
        el("tr", {}, [el("th", { text: "Measurement" }), el("th", { text: "Status" }), el("th", { text: "Enclaves" })]),
      ]),
      el(
        "tbody",
        {},
        tee.measurements.map(function (m) {
          var status = m.revoked ? "revoked " + new Date(m.revokedAt * 1000).toISOString() : "accepted";
          return el("tr", {}, [
            el("td", { class: "hash", text: m.measurement }),
            el("td", { text: status }),
            el("td", { text: String(m.enclaves) }),
          ]);
        }),
      ),
    ]);
  }

  function requestSection(model, version) {
    var select = el(
      "select",
      { id: "snippet-mode", "aria-label": "Verification mode" },
      version.modes.map(function (m) {
        return el("option", { value: String(m), text: modeName(m) });
      }),
    );
    var code = el("code", { id: "snippet" });
    var update = function () {
      code.textContent = snippet(model, version, Number(select.value));
    };
    select.onchange = update;
    update();
    var copy = el("button", { type: "button", id: "copy", text: "Copy" });
    copy.onclick = function () {
      copyText(code.textContent, copy);
    };
    return el("section", { class: "request" }, [
      el("div", { class: "snippet-head" }, [el("h2", { text: "Request an inference" }), select, copy]),
      el("pre", {}, [code]),
    ]);
  }

  /**
   * A text-generation version (its card's task, or a GGUF file among its files) is chatted with through a TEE
   * operator's gateway, not asked as one on-chain job.
   */
  function isTextModel(version) {
    if (version.card && version.card.task === "text-generation") return true;
    return (version.files || []).some(function (f) {
      return /\.gguf$/i.test(f.path);
    });
  }

  function chatSection(model, version) {
    var code = el("code", { id: "snippet", text: chatSnippet(model, version) });
    var copy = el("button", { type: "button", id: "copy", text: "Copy" });
    copy.onclick = function () {
      copyText(code.textContent, copy);
    };
    return el("section", { class: "request chat" }, [
      el("div", { class: "snippet-head" }, [el("h2", { text: "Chat with this model" }), copy]),
      el("p", {
        text: "A text-generation model runs in TEE mode behind its operators' gateways: you chat with it through the private path, paying with prepaid credit, and every answer carries a receipt its enclave signs. It is not requested as an on-chain job.",
      }),
      el("pre", {}, [code]),
    ]);
  }

  function chatSnippet(model, version) {
    var id = model.modelId + "@" + version.version;
    return [
      "# 1. Prepaid credit with one operator's gateway (one credit token per answer), kept in ~/.vin/credit.json:",
      "vin credit deposit --url <gateway URL> --amount 1",
      "# 2. An agent on model " + model.modelId + " version " + version.version + ", with an encrypted memory:",
      "vin agent create my-agent --model " + id + ' --system "You are a helpful assistant."',
      "# 3. One turn: streams the answer through the private path and checks its receipt:",
      'vin agent say my-agent "Hello!" --gateway <operator address> --credit ~/.vin/credit.json',
      "",
      "# OpenAI-compatible API, through the private path (OHTTP via a relay to the operator's gateway):",
      "# POST /v1/chat/completions",
      '# {"model": "' + id + '", "messages": [{"role": "user", "content": "Hello!"}], "stream": true}',
    ].join("\n");
  }

  function snippet(model, version, mode) {
    var escrow = config.escrow || "<JobEscrow address>";
    var token = config.token || "<payment token address>";
    return [
      "// From the command line: vin request --model " +
        model.modelId +
        "@" +
        version.version +
        " --mode " +
        modeName(mode) +
        " --input '[...]' --wait",
      "// ethers v6, Node 20 (ESM). Requests model " +
        model.modelId +
        " version " +
        version.version +
        " in " +
        modeName(mode) +
        " mode" +
        (config.chainId ? " on chain " + config.chainId : "") +
        ".",
      'import { Contract, JsonRpcProvider, Wallet, ZeroAddress, ZeroHash, toUtf8Bytes } from "ethers";',
      "const signer = new Wallet(process.env.PRIVATE_KEY, new JsonRpcProvider(process.env.RPC_URL));",
      'const escrow = new Contract("' + escrow + '", [',
      '  "function quote(uint64,uint32,uint8,uint8,uint96) view returns (uint256,uint96,uint96)",',
      '  "function request((uint64 modelId,uint32 version,uint8 mode,uint8 redundancy,uint64 deadline,uint96 feePerNode,uint96 collateral,uint256 maxTotal,address callback,uint32 callbackGasLimit,bytes32 inputCommitment,bytes input,string inputUri)) returns (uint64)",',
      "], signer);",
      'const token = new Contract("' + token + '", ["function approve(address,uint256) returns (bool)"], signer);',
      "const feePerNode = 10n ** 18n, collateral = 10n ** 18n;",
      "const [total] = await escrow.quote(" +
        model.modelId +
        ", " +
        version.version +
        ", " +
        mode +
        ", 1, feePerNode);",
      "await (await token.approve(escrow.target, total)).wait();",
      "const tx = await escrow.request({",
      "  modelId: " + model.modelId + ", version: " + version.version + ", mode: " + mode + ", redundancy: 1,",
      "  deadline: BigInt(Math.floor(Date.now() / 1000) + 3600), feePerNode, collateral, maxTotal: total,",
      "  callback: ZeroAddress, callbackGasLimit: 0, inputCommitment: ZeroHash,",
      '  input: toUtf8Bytes(JSON.stringify([/* your input */])), inputUri: "",',
      "});",
      'console.log("requested in", (await tx.wait()).hash);',
    ].join("\n");
  }

  /** Copies through the Clipboard API, falling back to a hidden textarea; records the text for tests. */
  /* NETWORK */

  function showNetwork() {
    $("network-status").textContent = "Reading the hub's index…";
    $("network-stats").replaceChildren();
    getJson("/api/network")
      .then(function (n) {
        $("network-status").textContent =
          "Blocks " +
          n.fromBlock +
          "–" +
          n.toBlock +
          ": " +
          plural(n.operators, "operator", "operators") +
          " · " +
          tokenAmount(n.stake.total) +
          " staked · " +
          plural(n.jobs.total, "job", "jobs") +
          " requested (" +
          n.jobs.redundant +
          " with redundancy)";
        $("network-stats").replaceChildren(
          networkModes(n),
          networkControl(n),
          networkStake(n),
          networkJobShares(n),
          networkServable(n),
          el("p", {
            class: "meta",
            text: "Operators are distinct addresses: one entity running several counts as several, so these figures are an upper bound on decentralisation.",
          }),
        );
        return showNetworkHistory(n);
      })
      .catch(function (error) {
        $("network-status").textContent = "Network figures unavailable: " + error.message;
      });
  }

  /** The figures at the end of each of about HISTORY_WINDOWS windows of the indexed blocks, each window's jobs its own. */
  var HISTORY_WINDOWS = 12;
  function showNetworkHistory(n) {
    var window = Math.max(1, Math.ceil((n.toBlock - n.fromBlock + 1) / HISTORY_WINDOWS));
    return getJson("/api/network?window=" + window).then(function (h) {
      var cell = function (v) {
        return el("td", { class: "num", text: v === null ? "–" : String(v) });
      };
      $("network-stats").appendChild(
        el("table", { id: "network-history" }, [
          el("caption", { text: "History, per window of " + plural(window, "block", "blocks") }),
          el("thead", {}, [
            el("tr", {}, [
              el("th", { text: "Blocks" }),
              el("th", { text: "Operators" }),
              el("th", { text: "Stake" }),
              el("th", { text: "Nakamoto by stake" }),
              el("th", { text: "Nakamoto by jobs" }),
              el("th", { text: "Jobs requested" }),
            ]),
          ]),
          el(
            "tbody",
            {},
            h.history.map(function (p) {
              var c = p.concentration;
              return el("tr", {}, [
                el("td", { text: p.fromBlock + "–" + p.toBlock }),
                cell(c.operators),
                el("td", { class: "num", text: tokens(c.stake.total) }),
                cell(c.nakamoto.byStake),
                cell(c.nakamoto.byJobs),
                cell(c.jobs.total),
              ]);
            }),
          ),
        ]),
      );
    });
  }

  function percent(share) {
    return (Math.round(share * 1000) / 10).toFixed(1) + " %";
  }

  /** The stake of the largest operators and its share, then the operators' stake quantiles (nearest rank). */
  function networkStake(n) {
    var q = n.stake.quantiles;
    var rows = n.stake.top
      .filter(function (t) {
        return t.n <= Math.max(1, n.operators);
      })
      .map(function (t) {
        return [t.n === 1 ? "largest operator" : "largest " + t.n + " operators", tokens(t.stake), percent(t.share)];
      });
    var QUANTILES = [
      ["min", "smallest stake"],
      ["p25", "25th percentile stake"],
      ["median", "median stake"],
      ["p75", "75th percentile stake"],
      ["p90", "90th percentile stake"],
      ["max", "largest stake"],
    ];
    if (q !== null)
      QUANTILES.forEach(function (entry) {
        rows.push([entry[1], tokens(q[entry[0]]), ""]);
      });
    return el("table", { id: "network-stake" }, [
      el("caption", { text: "Stake distribution (tokens)" }),
      el("thead", {}, [
        el("tr", {}, [el("th", { text: "" }), el("th", { text: "Stake" }), el("th", { text: "Share" })]),
      ]),
      el(
        "tbody",
        {},
        rows.map(function (r) {
          return el("tr", {}, [
            el("td", { text: r[0] }),
            el("td", { class: "num", text: r[1] }),
            el("td", { class: "num", text: r[2] }),
          ]);
        }),
      ),
    ]);
  }

  /** Each operator's jobs served and share of all jobs served, largest first. */
  function networkJobShares(n) {
    return el("table", { id: "network-jobs" }, [
      el("caption", { text: "Jobs served per operator" }),
      el("thead", {}, [
        el("tr", {}, [el("th", { text: "Operator" }), el("th", { text: "Jobs served" }), el("th", { text: "Share" })]),
      ]),
      el(
        "tbody",
        {},
        n.jobShares.map(function (s) {
          return el("tr", {}, [
            el("td", { title: s.address, text: short(s.address) }),
            el("td", { class: "num", text: String(s.jobsServed) }),
            el("td", { class: "num", text: percent(s.share) }),
          ]);
        }),
      ),
    ]);
  }

  /** How many models at least k distinct operators can serve. */
  function networkServable(n) {
    return el("table", { id: "network-servable" }, [
      el("caption", {
        text: "Models servable by at least k operators, of " + plural(n.servable.models, "model", "models"),
      }),
      el("thead", {}, [el("tr", {}, [el("th", { text: "k" }), el("th", { text: "Models" })])]),
      el(
        "tbody",
        {},
        n.servable.byAtLeast.map(function (b) {
          return el("tr", {}, [
            el("td", { class: "num", text: String(b.k) }),
            el("td", { class: "num", text: String(b.models) }),
          ]);
        }),
      ),
    ]);
  }

  function networkModes(n) {
    return el("table", { id: "network-modes" }, [
      el("thead", {}, [el("tr", {}, [el("th", { text: "Mode" }), el("th", { text: "Operators" })])]),
      el(
        "tbody",
        {},
        n.operatorsPerMode.map(function (m) {
          return el("tr", {}, [el("td", { text: m.name }), el("td", { class: "num", text: String(m.operators) })]);
        }),
      ),
    ]);
  }

  /** Nakamoto coefficient (the fewest operators holding more than the threshold) and HHI (0–10,000), by stake and by jobs served. */
  function networkControl(n) {
    var dash = function (v, show) {
      return v === null ? "–" : show(v);
    };
    var row = function (by, nakamoto, hhi) {
      return el("tr", {}, [
        el("td", { text: by }),
        el("td", { class: "num", text: dash(nakamoto, String) }),
        el("td", {
          class: "num",
          text: dash(hhi, function (v) {
            return String(Math.round(v));
          }),
        }),
      ]);
    };
    var threshold = n.nakamoto.thresholdBps / 100 + " %";
    return el("table", { id: "network-control" }, [
      el("thead", {}, [
        el("tr", {}, [
          el("th", { text: "By" }),
          el("th", {
            text: "Nakamoto (> " + threshold + ")",
            title: "The fewest operators holding more than " + threshold,
          }),
          el("th", { text: "HHI", title: "Herfindahl–Hirschman index, 0–10,000 (10,000: one operator)" }),
        ]),
      ]),
      el("tbody", {}, [
        row("stake", n.nakamoto.byStake, n.hhi.byStake),
        row("jobs served", n.nakamoto.byJobs, n.hhi.byJobs),
      ]),
    ]);
  }

  function copyText(text, button) {
    var done = function () {
      window.hubLastCopied = text;
      button.textContent = "Copied";
      setTimeout(function () {
        button.textContent = "Copy";
      }, 1500);
    };
    var fallback = function () {
      var area = el("textarea", { "aria-hidden": "true", class: "offscreen" });
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try {
        document.execCommand("copy");
      } finally {
        area.remove();
      }
      done();
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  }

  /* START */

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call($("mode").options, function (o) {
      if (o.dataset.mode) MODE_NAMES[o.dataset.mode] = o.value;
    });
    $("search-form").addEventListener("submit", function (event) {
      event.preventDefault();
      go(formParams(1));
    });
    FORM_FIELDS.slice(1).forEach(function (name) {
      $(name).addEventListener("change", function () {
        go(formParams(1));
      });
    });
    window.addEventListener("hashchange", route);
    getJson("/hub-config.json")
      .then(function (c) {
        config = c;
        if (c.chainId) $("network").textContent = "chain " + c.chainId + " · escrow " + short(c.escrow || "");
      })
      .catch(function () {
        /* the page works without it; snippets show placeholders */
      })
      .then(route);
  });
})();
