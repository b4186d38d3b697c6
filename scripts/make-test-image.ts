/**
 * Writes a deterministic OCI image layout for manual testing and prints its description as JSON.
 *
 *   tsx scripts/make-test-image.ts --out DIR [--tag T] [--layers 1048576,2048] [--seed N]
 *                                  [--platforms linux/amd64,linux/arm64/v8] [--index]
 *
 * Then e.g. `skopeo copy --insecure-policy --dest-tls-verify=false --all oci:DIR:T docker://HOST/repo:T`.
 */
import { parseArgs } from "node:util";
import { makeImageLayout, parsePlatform } from "../test/support/images.js";

const usage =
  "usage: tsx scripts/make-test-image.ts --out DIR [--tag T] [--layers 1048576,2048] [--seed N] " +
  "[--platforms linux/amd64,linux/arm64/v8] [--index]";

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

function parseSize(text: string): number {
  // Suffixes save counting zeros for the large-layer cases (e.g. 256M, 1G).
  const match = /^(\d+)([KMG]i?B?)?$/i.exec(text.trim());
  if (!match) fail(`invalid layer size ${JSON.stringify(text)}`);
  const unit = (match[2] ?? "").charAt(0).toUpperCase();
  const multiplier = unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : 1;
  return Number(match[1]) * multiplier;
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      out: { type: "string", short: "o" },
      tag: { type: "string", short: "t" },
      layers: { type: "string", short: "l" },
      seed: { type: "string", short: "s" },
      platforms: { type: "string", short: "p" },
      index: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
if (!values.out) fail("--out is required");

let platforms;
try {
  platforms = values.platforms?.split(",").map((p) => parsePlatform(p.trim()));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

const started = performance.now();
const layout = await makeImageLayout(values.out, {
  tag: values.tag,
  layers: values.layers?.split(",").map(parseSize),
  // Seeds are compared as strings, so "7" here matches `seed: 7` in tests.
  seed: values.seed,
  platforms,
  index: values.index || undefined,
});
process.stdout.write(`${JSON.stringify(layout, null, 2)}\n`);
process.stderr.write(`wrote ${layout.ref} in ${Math.round(performance.now() - started)} ms\n`);
