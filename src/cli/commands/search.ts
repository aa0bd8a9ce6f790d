import type { Command } from "commander";
import { MODE_NAMES } from "../../core/modes";
import { DEFAULT_HUB_URL, searchHub, tokenAmount, usageLine, type SearchHubFilters } from "../../hub/client";
import type { SearchHit } from "../../hub/search";
import type { Globals } from "../options";
import { hubContext, hubOutput, type HubContext } from "./hub";

type SearchFlags = SearchHubFilters & { hub?: string; json?: boolean };

/** `vin search [query...]`: a running hub's `/api/search` (see `searchHub`), one model per hit. */
export function register(program: Command, global: Globals, context: HubContext = hubContext(global)): void {
  const { out } = hubOutput(context);
  program
    .command("search")
    .description("search the model hub")
    .argument("[query...]", "words to search for")
    .option("--task <task>")
    .option("--license <license>")
    .option("--library <library>")
    .option("--language <language>", "ISO 639-1 code or English name, e.g. fi or Finnish")
    .option("--mode <mode>", "vanilla, tee or zk")
    .option("--min-usage <jobs>", "at least this many verified jobs")
    .option("--sort <order>", "relevance, usage or recency")
    .option("--page <n>")
    .option("--hub <url>", "hub API (default: the configured hub, http://127.0.0.1:8787)")
    .option("--json", "print the API's JSON answer")
    .action(async (words: string[], opts: SearchFlags) => {
      const { hub, json, ...filters } = opts;
      const result = await searchHub({ hubUrl: hub ?? context.hubUrl ?? DEFAULT_HUB_URL, words, filters });
      if (json) return out(JSON.stringify(result, null, 2));
      if (result.hits.length === 0) return out("no models found");
      for (const hit of result.hits) out(formatHit(hit, context.tokenDecimals ?? 18));
      if (result.hasMore) out(`more results: --page ${result.page + 1}`);
    });
}

function formatHit(hit: SearchHit, decimals: number): string {
  const modes = hit.modes.map((m) => MODE_NAMES[m] ?? `mode ${m}`).join(",");
  const about = `[${[hit.task, ...hit.licenses, ...(hit.library === null ? [] : [hit.library])].join(", ")}]`;
  return `${hit.modelId}@${hit.version}  ${hit.name}  ${about}  ${modes}  ${tokenAmount(hit.price, decimals)} / inference  ${usageLine(hit, decimals)}\n    ${hit.summary}`;
}
