/**
 * Section 5: `/v2/_catalog` over many repositories. Both roots are written directly in
 * distribution's layout (much faster than pushing), then each registry is started on its copy.
 */
import http from "node:http";
import { join } from "node:path";
import { log, type Context } from "../lib/context.js";
import { catalogNames, populateCatalog } from "../lib/data.js";
import { median, row, type Row } from "../lib/report.js";
import { interleaved, samples } from "../lib/rounds.js";
import type { Kind, Server } from "../lib/servers.js";

const PAGE = 100;
const REQUEST_TIMEOUT = 120_000;

interface Page {
  names: string[];
  next: string | undefined;
  ms: number;
}

/**
 * One GET over a kept-alive connection (node:http: less client overhead than fetch, which
 * matters for sub-millisecond answers).
 */
function getPage(server: Server, agent: http.Agent, path: string): Promise<Page> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(`${server.url}${path}`, { agent, timeout: REQUEST_TIMEOUT }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("error", reject);
      res.once("end", () => {
        const ms = performance.now() - started;
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200) {
          reject(new Error(`${server.kind}: GET ${path} answered ${res.statusCode}: ${text.slice(0, 300)}`));
          return;
        }
        try {
          const body = JSON.parse(text) as { repositories?: string[] };
          const header = res.headers.link;
          const link = Array.isArray(header) ? header.join(", ") : header;
          const next = link ? /<([^>]+)>;\s*rel="?next"?/.exec(link)?.[1] : undefined;
          resolve({ names: body.repositories ?? [], next, ms });
        } catch (error) {
          reject(error);
        }
      });
    });
    req.once("timeout", () => req.destroy(new Error(`${server.kind}: GET ${path} took longer than ${REQUEST_TIMEOUT} ms`)));
    req.once("error", reject);
  });
}

function expectNames(server: Server, what: string, got: string[], want: string[]): void {
  if (got.length !== want.length || got.some((name, i) => name !== want[i])) {
    throw new Error(`${server.kind}: ${what} returned ${got.length} names (${got.slice(0, 3).join(", ")}…), expected ${want.length} (${want.slice(0, 3).join(", ")}…)`);
  }
}

/** Follows `Link: <…>; rel="next"` from the first page; returns total ms and the names seen. */
async function fullWalk(server: Server, agent: http.Agent, maxPages: number): Promise<{ ms: number; names: string[]; pages: number }> {
  const names: string[] = [];
  let path: string | undefined = `/v2/_catalog?n=${PAGE}`;
  let pages = 0;
  const started = performance.now();
  while (path !== undefined) {
    if (++pages > maxPages) throw new Error(`${server.kind}: catalog walk did not end after ${maxPages} pages`);
    const page: Page = await getPage(server, agent, path);
    names.push(...page.names);
    path = page.next;
  }
  return { ms: performance.now() - started, names, pages };
}

export async function catalog(ctx: Context): Promise<Row[]> {
  const count = ctx.options.repos;
  const names = catalogNames(count);
  const berthRoot = join(ctx.work, "catalog-berth");
  const distRoot = join(ctx.work, "catalog-distribution");
  const t = performance.now();
  await populateCatalog([berthRoot, distRoot], names);
  log(`  wrote ${count.toLocaleString("en-US")} repositories into each root in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // The very first request after start, once per round on a fresh process: Berth walks storage once to build its list.
  const cold = samples();
  const roots: Record<Kind, string> = { berth: berthRoot, distribution: distRoot };
  await interleaved(ctx, ["berth", "distribution"] as [Kind, Kind], {
    prepare: async () => undefined,
    measure: async (kind) => {
      const server = await ctx.start(kind, roots[kind]);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const page = await getPage(server, agent, `/v2/_catalog?n=${PAGE}`);
        expectNames(server, "first page", page.names, names.slice(0, PAGE));
        cold[kind].push(page.ms);
        log(`    ${kind.padEnd(12)} first request after start: ${page.ms.toFixed(1)} ms`);
      } finally {
        agent.destroy();
        await ctx.stop(server);
      }
    },
  });

  const berth = await ctx.start("berth", berthRoot);
  const dist = await ctx.start("distribution", distRoot);
  const pair: [Server, Server] = [berth, dist];
  const agents: Record<Kind, http.Agent> = {
    berth: new http.Agent({ keepAlive: true, maxSockets: 1 }),
    distribution: new http.Agent({ keepAlive: true, maxSockets: 1 }),
  };
  const middle = Math.floor(count / 2);
  const middlePath = `/v2/_catalog?n=${PAGE}&last=${encodeURIComponent(names[middle]!)}`;
  const firstPath = `/v2/_catalog?n=${PAGE}`;
  try {
    // Warm pages: alternating between the registries in blocks of a few requests each.
    const block = 5;
    const first = samples();
    const mid = samples();
    await interleaved(ctx, pair, {
      prepare: async () => undefined,
      measure: async (server) => {
        for (let i = 0; i < block; i++) {
          const a = await getPage(server, agents[server.kind], firstPath);
          expectNames(server, "first page", a.names, names.slice(0, PAGE));
          first[server.kind].push(a.ms);
        }
        for (let i = 0; i < block; i++) {
          const b = await getPage(server, agents[server.kind], middlePath);
          expectNames(server, "middle page", b.names, names.slice(middle + 1, middle + 1 + PAGE));
          mid[server.kind].push(b.ms);
        }
      },
    });
    for (const server of pair) {
      log(
        `    ${server.kind.padEnd(12)} first page ${median(first[server.kind])?.toFixed(2)} ms, ` +
          `middle page ${median(mid[server.kind])?.toFixed(2)} ms (medians of ${ctx.options.runs * block})`,
      );
    }

    // Full walks: repeated while cheap, bounded in count and in time.
    const walkBudgetMs = 180_000;
    const walks = samples();
    const spent: Record<Kind, number> = { berth: 0, distribution: 0 };
    const maxPages = Math.ceil(count / PAGE) + 5;
    await interleaved(ctx, pair, {
      prepare: async () => undefined,
      measure: async (server, rep) => {
        if (rep > 0 && spent[server.kind] > walkBudgetMs / ctx.options.runs) return;
        const walk = await fullWalk(server, agents[server.kind], maxPages);
        expectNames(server, "full walk", walk.names, names);
        walks[server.kind].push(walk.ms);
        spent[server.kind] += walk.ms;
        log(`    ${server.kind.padEnd(12)} full walk: ${walk.pages} pages in ${walk.ms.toFixed(0)} ms`);
      },
    });

    const n = count.toLocaleString("en-US");
    const target = { kind: "ratio-max", value: 0.1 } as const;
    const warmNote = `node:http keep-alive client; ${block} requests per registry and round`;
    return [
      row({
        section: "5",
        metric: `_catalog first request after start (${n} repos)`,
        unit: "ms",
        better: "lower",
        samples: cold,
        note: "?n=100 on a fresh process each round; Berth walks storage once here to build its in-memory list",
      }),
      row({ section: "5", metric: `_catalog?n=${PAGE} first page, warm`, unit: "ms", better: "lower", samples: first, target, note: warmNote }),
      row({ section: "5", metric: `_catalog?n=${PAGE}&last= at ${middle.toLocaleString("en-US")}, warm`, unit: "ms", better: "lower", samples: mid, target, note: warmNote }),
      row({
        section: "5",
        metric: `_catalog full walk, n=${PAGE} (${Math.ceil(count / PAGE)} pages)`,
        unit: "ms",
        better: "lower",
        samples: walks,
        target,
        note: "following Link headers from the first page; every name checked",
      }),
    ];
  } finally {
    agents.berth.destroy();
    agents.distribution.destroy();
    await ctx.stop(berth, dist);
  }
}
