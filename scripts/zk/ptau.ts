/**
 * Generates (or reuses from `.cache/zk/ptau/`) a local development powers-of-tau file.
 * Usage: npx ts-node scripts/zk/ptau.ts [power=12]
 */
import { ensurePtau } from "../../src/zkml/setup";

async function main(): Promise<void> {
  const power = Number(process.argv[2] ?? "12");
  const art = await ensurePtau({ power, log: (l) => console.log(l) });
  console.log(JSON.stringify(art, null, 2));
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
