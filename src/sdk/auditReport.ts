/**
 * The audit as a risk officer reads it: one self-contained HTML page (no script, no outside resource) with the
 * verdict and the block it was read at, plots where a picture says more (latency, price, outputs over time, each
 * version's verified evaluation beside its baseline), a table of the jobs, and every check of every job. The plots
 * are also written as SVG files.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { barChart, escapeXml, lineChart } from "../economics/plot";
import { formatMetric, type Metric } from "../core/evaluation";
import type { AuditedJob, AuditReport } from "./auditAddress";

/** A plot of the report: a file name and its SVG text. */
export interface AuditPlot {
  file: string;
  title: string;
  svg: string;
}

const TOKEN = 1e18;

/**
 * The report's plots (only those with something to show).
 * @example for (const p of auditPlots(report)) writeFileSync(path.join(out, p.file), p.svg);
 */
export function auditPlots(report: AuditReport): AuditPlot[] {
  const plots: AuditPlot[] = [];
  const settled = report.jobs.filter((j) => j.latencySeconds !== undefined);
  if (settled.length > 0)
    plots.push({
      file: "latency.svg",
      title: "Request to settlement",
      svg: barChart({
        title: "Request to settlement, per job",
        xLabel: "job",
        yLabel: "seconds",
        bars: settled.map((j) => ({ label: j.jobId, value: j.latencySeconds! })),
      }),
    });
  if (report.jobs.length > 0) {
    const first = report.jobs[0]!.requested.timestamp;
    const at = (j: AuditedJob) => (j.requested.timestamp - first) / 60;
    plots.push({
      file: "price.svg",
      title: "Price per job",
      svg: lineChart({
        title: "Price per job: escrowed and paid",
        xLabel: "minutes since the first request",
        yLabel: "tokens",
        series: [
          { name: "escrowed", points: report.jobs.map((j) => [at(j), Number(j.price.escrowed) / TOKEN] as const) },
          {
            name: "paid",
            points: report.jobs
              .filter((j) => j.price.paid !== undefined)
              .map((j) => [at(j), Number(j.price.paid) / TOKEN] as const),
          },
        ].filter((s) => s.points.length > 0),
      }),
    });
    const values = report.jobs.filter((j) => j.output?.value !== undefined);
    if (values.length > 0)
      plots.push({
        file: "outputs.svg",
        title: "Outputs over time",
        svg: lineChart({
          title: "Settled outputs over time",
          xLabel: "minutes since the first request",
          yLabel: "output",
          series: groupBy(values, (j) => `model ${j.modelId}@${j.version} (${j.mode})`).map(([name, jobs]) => ({
            name,
            points: jobs.map((j) => [at(j), j.output!.value!] as const),
          })),
        }),
      });
    const labels = report.jobs.filter((j) => j.output?.label !== undefined);
    if (labels.length > 0)
      plots.push({
        file: "classes.svg",
        title: "Classes answered",
        svg: barChart({
          title: "Classes answered (settled jobs)",
          xLabel: "model@version: class",
          yLabel: "jobs",
          bars: groupBy(labels, (j) => `${j.modelId}@${j.version}: ${j.output!.label}`).map(([label, jobs]) => ({
            label,
            value: jobs.length,
          })),
        }),
      });
  }
  const evaluations = uniqueEvaluations(report);
  if (evaluations.length > 0)
    plots.push({
      file: "evaluations.svg",
      title: "Verified evaluations and their baselines",
      svg: barChart({
        title: "Verified evaluation beside the trivial baseline",
        xLabel: "model@version on dataset",
        yLabel: "metric (accuracy, or error in the target's unit)",
        bars: evaluations.flatMap((e) => [
          { label: `${e.modelId}@${e.version} #${e.dataset.datasetId}`, value: Number(e.value) / 1e6 },
          { label: `baseline #${e.dataset.datasetId}`, value: Number(e.dataset.baselineValue) / 1e6 },
        ]),
      }),
    });
  return plots;
}

/** The report as one HTML page. */
export function renderAuditHtml(report: AuditReport, plots: AuditPlot[] = auditPlots(report)): string {
  const h = escapeXml;
  const verdict = report.ok ? "PASSED" : "FAILED";
  const s = report.summary;
  const rows = report.jobs.map((j) => {
    const failed = j.checks.filter((c) => !c.ok && c.severity === "fail").length;
    const warned = j.checks.filter((c) => !c.ok && c.severity === "warn").length;
    const evaluation = j.evaluations
      .map(
        (e) =>
          `${formatMetric(e.dataset.metric as Metric, e.value)} vs ${formatMetric(e.dataset.metric as Metric, e.dataset.baselineValue)} (${e.dataset.name})${e.valid ? "" : " REVOKED"}`,
      )
      .join("; ");
    return `<tr class="${j.ok ? "ok" : "fail"}"><td><a href="#job-${h(j.jobId)}">${h(j.jobId)}</a></td><td>${h(j.mode)}</td><td>${h(`${j.modelId}@${j.version}`)}</td><td>${h(j.status)}</td><td>${j.latencySeconds === undefined ? "" : `${j.latencySeconds} s`}</td><td>${h(tokens(j.price.escrowed))}</td><td>${h(j.output?.text ?? "")}</td><td>${h(evaluation || "none")}</td><td>${h(j.consumer?.detail ?? "")}</td><td>${j.ok ? "ok" : `FAIL (${failed})`}${warned > 0 ? `, ${warned} warning${warned === 1 ? "" : "s"}` : ""}</td></tr>`;
  });
  const details = report.jobs.map(
    (j) => `<section id="job-${h(j.jobId)}"><h3>Job ${h(j.jobId)}: ${h(j.ok ? "verified" : "FAILED")}</h3>
<p>Model ${h(`${j.modelId}@${j.version}`)}, ${h(j.mode)} mode, k = ${j.redundancy}; requested in block ${j.requested.block} (${h(iso(j.requested.timestamp))}, tx ${h(j.requested.tx ?? "")})${j.settled === undefined ? "" : `; settled in block ${j.settled.block} (${h(iso(j.settled.timestamp))}, tx ${h(j.settled.tx ?? "")})`}; deadline ${h(iso(j.deadline))}.</p>
<p>Input (${h(j.input.kind)}, commitment <code>${h(j.input.commitment)}</code>): ${h(j.input.text ?? j.input.uri ?? "not shown")}. Output: ${h(j.output?.text ?? "none")}${j.output === undefined ? "" : ` (hash <code>${h(j.output.hash)}</code>)`}.</p>
<p>Gas: request ${j.gas.request}${j.gas.claims.length === 0 ? "" : `, claims ${j.gas.claims.join(", ")}`}${j.gas.settle === undefined ? "" : `, settlement ${j.gas.settle}`} (paid by the requester and the nodes; the audit itself only reads).</p>
<p>Price: escrowed ${h(tokens(j.price.escrowed))} (model ${h(tokens(j.price.modelFee))}, ${j.redundancy} × node ${h(tokens(j.price.feePerNode))}, protocol ${h(tokens(j.price.protocolFee))}); taken ${h(tokens(j.price.pulled ?? "0"))}${j.price.paid === undefined ? "" : `; paid ${h(tokens(j.price.paid))}, back to the requester ${h(tokens(j.price.refunded ?? "0"))}`}.</p>
${j.verification?.enclave === undefined ? "" : `<p>Enclave <code>${h(j.verification.enclave.signer)}</code> of operator <code>${h(j.verification.enclave.operator)}</code>, measurement <code>${h(j.verification.enclave.measurement)}</code>, as of block ${j.verification.enclave.block}.</p>`}
${j.consumer === undefined ? "" : `<p>The consumer ${h(j.consumer.event)}: ${h(j.consumer.detail)}.</p>`}
<table><thead><tr><th>Check</th><th>Result</th><th>Detail</th></tr></thead><tbody>
${j.checks.map((c) => `<tr class="${c.ok ? "ok" : c.severity === "warn" ? "warn" : "fail"}"><td>${h(c.name)}</td><td>${c.ok ? "ok" : c.severity === "warn" ? "warning" : "FAIL"}</td><td>${h(c.detail)}</td></tr>`).join("\n")}
</tbody></table></section>`,
  );
  const evaluations = uniqueEvaluations(report).map(
    (e) =>
      `<tr class="${e.valid ? "ok" : "fail"}"><td>${h(`${e.modelId}@${e.version}`)}</td><td>${h(`#${e.dataset.datasetId} ${e.dataset.name}`)}<br><small>${h(e.dataset.split)}; rows ${h(e.dataset.rowsCid)}</small></td><td>${h(formatMetric(e.dataset.metric as Metric, e.value))}</td><td>${h(`${formatMetric(e.dataset.metric as Metric, e.dataset.baselineValue)} (${e.dataset.baseline})`)}</td><td>${e.beatsBaseline ? "better" : "NOT better"}</td><td>${h(`TEE enclave ${e.enclave}, operator ${e.operator}, measurement ${e.measurement}, request ${e.requestId}, ${iso(Number(e.evaluatedAt))}`)}${e.valid ? "" : " — REVOKED"}</td></tr>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Audit of ${h(report.address)}: ${verdict}</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0 1.5em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 6px; text-align: left; vertical-align: top; }
tr.fail td { background: #fde2e2; } tr.warn td { background: #fff4d6; }
.verdict { font-size: 1.4em; font-weight: bold; color: ${report.ok ? "#1a7f37" : "#b42318"}; }
code, small { font-size: 12px; } .plots svg { max-width: 100%; height: auto; margin: 0.5em 0; }
</style></head><body>
<h1>Audit of ${h(report.address)}</h1>
<p class="verdict">${verdict}: ${s.jobs} job${s.jobs === 1 ? "" : "s"} (${s.settled} settled, ${s.refunded} refunded, ${s.open} open), ${s.failedJobs} failed, ${s.warnings} warning${s.warnings === 1 ? "" : "s"}</p>
<p>Chain ${report.chainId}, read at block ${report.block.number} (hash <code>${h(report.block.hash)}</code>, ${h(iso(report.block.timestamp))}), ${report.confirmations} blocks below the head ${report.head}; jobs requested from block ${report.fromBlock}. Generated ${h(report.generatedAt)}. Every figure below was re-derived from the chain at that block: nothing was taken from a node, a hub or the requester.</p>
${report.checks.map((c) => `<p class="${c.ok ? "" : "verdict"}">${h(c.name)}: ${c.ok ? "ok" : "FAIL"} — ${h(c.detail)}</p>`).join("\n")}
<h2>Verified evaluations of the versions used</h2>
${evaluations.length === 0 ? "<p>None of the versions used has a verified evaluation.</p>" : `<table><thead><tr><th>Version</th><th>Dataset</th><th>Value</th><th>Trivial baseline</th><th>vs baseline</th><th>Method</th></tr></thead><tbody>${evaluations.join("\n")}</tbody></table>`}
<h2>Plots</h2>
<div class="plots">${plots.map((p) => p.svg.replace(/^<\?xml[^>]*>\s*/, "")).join("\n")}</div>
<h2>Jobs</h2>
<table><thead><tr><th>Job</th><th>Mode</th><th>Model</th><th>Status</th><th>Latency</th><th>Escrowed</th><th>Output</th><th>Verified evaluation</th><th>Consumer</th><th>Result</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>
${details.join("\n")}
</body></html>
`;
}

/**
 * Writes `report.json`, `report.html` and the plots into `dir`; returns their paths.
 * @example const { html } = writeAuditReport(report, "audit-0xabc");
 */
export function writeAuditReport(report: AuditReport, dir: string): { json: string; html: string; plots: string[] } {
  mkdirSync(dir, { recursive: true });
  const plots = auditPlots(report);
  const json = path.join(dir, "report.json");
  const html = path.join(dir, "report.html");
  writeFileSync(json, `${JSON.stringify(report, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`);
  writeFileSync(html, renderAuditHtml(report, plots));
  for (const p of plots) writeFileSync(path.join(dir, p.file), p.svg);
  return { json, html, plots: plots.map((p) => path.join(dir, p.file)) };
}

/** The distinct evaluations the report's jobs carry (one per version and dataset). */
function uniqueEvaluations(report: AuditReport) {
  const seen = new Map<string, AuditedJob["evaluations"][number]>();
  for (const j of report.jobs)
    for (const e of j.evaluations) seen.set(`${e.modelId}@${e.version}#${e.dataset.datasetId}`, e);
  return [...seen.values()];
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return [...groups.entries()];
}

function tokens(wei: string): string {
  const v = BigInt(wei);
  const whole = v / 10n ** 18n;
  const frac = (v % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "");
  return `${whole}${frac === "" ? "" : `.${frac}`} tokens`;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
