import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { ALL_STATES, type JobTable } from "./store";

/** The node's Prometheus metrics. */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly latency = new Histogram({
    name: "vin_job_latency_seconds",
    help: "From seeing a job to its settlement by this node",
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 300],
    labelNames: ["mode"],
    registers: [this.registry],
  });
  readonly computeSeconds = new Histogram({
    name: "vin_compute_seconds",
    help: "Inference time per job",
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2],
    registers: [this.registry],
  });
  readonly gasSpent = new Counter({
    name: "vin_gas_spent_wei_total",
    help: "Transaction fees paid by this node, in wei",
    registers: [this.registry],
  });
  readonly earnings = new Counter({
    name: "vin_earnings_wei_total",
    help: "Fees earned from settled jobs, in wei",
    registers: [this.registry],
  });
  readonly rpcErrors = new Counter({
    name: "vin_rpc_errors_total",
    help: "RPC failures seen by the chain follower",
    registers: [this.registry],
  });

  constructor(jobs: JobTable) {
    new Gauge({
      name: "vin_jobs",
      help: "Jobs in the node's database, by state",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        const counts = jobs.countByState();
        for (const state of ALL_STATES) this.set({ state }, counts[state]);
      },
    });
  }

  /** Serves `/metrics` on 127.0.0.1:`port` (0: an ephemeral port). Resolves with the bound port. */
  serve(port: number): Promise<{ server: Server; port: number }> {
    const server = createServer((req, res) => {
      if (req.url !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": this.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port }));
    });
  }
}
