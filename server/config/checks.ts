import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseHtpasswd } from "../auth/htpasswd-entries.js";
import { JwksError, parseJwks } from "../auth/jwks.js";
import { checkListenAddress } from "./address.js";
import type { KeyPath } from "./positions.js";
import type { RawProblem } from "./problems.js";
import { configSchema, knownAuthMethods, knownStorageDrivers, logLevelAliases, storageOptionKeys, toBoolean, toText } from "./schema.js";
import { parseDuration } from "./units.js";
import { isMapping, shapeOf } from "./shape.js";

/** Problems and warnings found by one pass. */
export interface Findings {
  problems: RawProblem[];
  warnings: RawProblem[];
}

export function get(doc: unknown, path: KeyPath): unknown {
  let current = doc;
  for (const part of path) {
    if (typeof part === "number") current = Array.isArray(current) ? current[part] : undefined;
    else current = isMapping(current) ? current[part] : undefined;
  }
  return current;
}

export function text(doc: unknown, path: KeyPath): string | undefined {
  const value = toText(get(doc, path));
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Brings a document into the shape the checks expect, before the schema sees it: a missing
 * `version` (distribution requires one; Berth assumes 0.1 and says so), the deprecated top-level
 * `loglevel`, and the bare-name forms `storage: inmemory` / `auth: silly`. Returns a copy.
 */
export function normalizeDocument(input: Record<string, unknown>): { doc: Record<string, unknown>; warnings: RawProblem[] } {
  const doc = structuredClone(input);
  const warnings: RawProblem[] = [];
  if (doc.version === undefined || doc.version === null) {
    doc.version = "0.1";
    warnings.push({ path: [], message: 'version is missing; assuming "0.1" (distribution refuses a file without `version: 0.1`)' });
  }
  for (const key of ["storage", "auth"]) {
    const value = doc[key];
    if (typeof value === "string" && value.trim() !== "") doc[key] = { [value.trim()]: {} };
  }
  if (doc.loglevel !== undefined && doc.loglevel !== null) {
    warnings.push({ path: ["loglevel"], message: "is deprecated; use log.level", at: "key" });
    const log = isMapping(doc.log) ? doc.log : doc.log === undefined || doc.log === null ? (doc.log = {}) : undefined;
    if (log && (log.level === undefined || log.level === null)) log.level = doc.loglevel;
  }
  for (const path of [["log", "level"], ["loglevel"]] as const) {
    const level = toText(get(doc, path))?.trim().toLowerCase();
    if (level !== undefined && Object.hasOwn(logLevelAliases, level)) {
      warnings.push({
        path,
        message: `"${level}" is not one of distribution's levels (error, warn, info, debug); Berth logs at ${logLevelAliases[level]}`,
      });
    }
  }
  return { doc, warnings };
}

/** Rules that span keys, checked on the (normalized) document so they run even when the schema fails elsewhere. */
export function crossCheck(doc: Record<string, unknown>): Findings {
  const problems: RawProblem[] = [];
  const warnings: RawProblem[] = [];

  // storage: exactly one driver, and one Berth knows.
  const storage = doc.storage;
  if (storage === undefined || storage === null) {
    problems.push({ path: ["storage"], message: `is required: configure exactly one storage driver (${knownStorageDrivers.join(", ")})` });
  } else if (isMapping(storage)) {
    const drivers = Object.keys(storage).filter((key) => !storageOptionKeys.has(key));
    if (drivers.length === 0) {
      problems.push({ path: ["storage"], message: `no storage driver configured: configure exactly one of ${knownStorageDrivers.join(", ")}`, at: "key" });
    } else if (drivers.length > 1) {
      problems.push({ path: ["storage"], message: `exactly one storage driver may be configured, found ${drivers.length}: ${drivers.join(", ")}`, at: "key" });
    }
    for (const driver of drivers) {
      if (!knownStorageDrivers.includes(driver)) {
        problems.push({ path: ["storage", driver], message: `unknown storage driver "${driver}"; known drivers: ${knownStorageDrivers.join(", ")}`, at: "key" });
      }
    }
  }

  // auth: at most one method, and one Berth knows.
  const auth = doc.auth;
  if (isMapping(auth)) {
    const methods = Object.keys(auth);
    if (methods.length > 1) {
      problems.push({ path: ["auth"], message: `exactly one auth method may be configured, found ${methods.length}: ${methods.join(", ")}`, at: "key" });
    }
    for (const method of methods) {
      if (!(knownAuthMethods as readonly string[]).includes(method)) {
        problems.push({ path: ["auth", method], message: `unknown auth method "${method}"; known methods: ${knownAuthMethods.join(", ")}`, at: "key" });
      }
    }
    const token = auth.token;
    // With Berth's own token server, its certificate is trusted without a bundle (it may not
    // exist before the first start, when Berth generates it).
    const builtInIssuer = get(doc, ["tokenserver", "enabled"]) === true;
    if (isMapping(token) && !builtInIssuer && text(token, ["rootcertbundle"]) === undefined && text(token, ["jwks"]) === undefined) {
      problems.push({
        path: ["auth", "token", "rootcertbundle"],
        message: "is required (unless tokenserver.enabled): the PEM bundle of certificates whose keys sign the tokens",
      });
    }
  }

  // redis: distribution 3.x's go-redis takes several addresses as a Redis Cluster.
  const addrs = get(doc, ["redis", "addrs"]);
  if (Array.isArray(addrs) && addrs.length > 1) {
    warnings.push({
      path: ["redis", "addrs"],
      message: `lists ${addrs.length} addresses: Berth connects to the first (${String(addrs[0])}) only; Redis Cluster is not implemented yet`,
    });
  }

  // http: addresses, TLS pairs.
  const net = text(doc, ["http", "net"])?.toLowerCase() ?? "tcp";
  const addr = get(doc, ["http", "addr"]);
  if (typeof addr === "string" || typeof addr === "number") {
    const why = checkListenAddress(String(addr), net === "unix" ? "unix" : "tcp");
    if (why) problems.push({ path: ["http", "addr"], message: why });
  }
  const debugAddr = text(doc, ["http", "debug", "addr"]);
  if (debugAddr !== undefined) {
    const why = checkListenAddress(debugAddr, "tcp");
    if (why) problems.push({ path: ["http", "debug", "addr"], message: why });
  }
  const tls = get(doc, ["http", "tls"]);
  if (isMapping(tls)) {
    const certificate = text(tls, ["certificate"]);
    const key = text(tls, ["key"]);
    if (certificate !== undefined && key === undefined) {
      problems.push({ path: ["http", "tls", "key"], message: "is required with http.tls.certificate: the certificate's private key" });
    }
    if (key !== undefined && certificate === undefined) {
      problems.push({ path: ["http", "tls", "certificate"], message: "is required with http.tls.key: the certificate for that key" });
    }
    const letsencrypt = tls.letsencrypt;
    if (certificate === undefined && isMapping(letsencrypt)) {
      for (const field of ["cachefile", "email"]) {
        if (text(letsencrypt, [field]) === undefined) {
          problems.push({ path: ["http", "tls", "letsencrypt", field], message: "is required to obtain certificates from Let's Encrypt" });
        }
      }
    }
  }
  crossCheckTokenServer(doc, { problems, warnings });
  return { problems, warnings };
}

/** Keys the schema does not know, as warnings (they are kept, but nothing reads them). */
export function unknownKeyWarnings(doc: Record<string, unknown>): RawProblem[] {
  const warnings: RawProblem[] = [];
  const walk = (value: unknown, schema: unknown, path: (string | number)[]) => {
    if (schema === undefined) return;
    const shape = shapeOf(schema);
    if (shape.kind === "array") {
      if (Array.isArray(value)) value.forEach((item, index) => walk(item, shape.element, [...path, index]));
    } else if (shape.kind === "record") {
      if (isMapping(value)) for (const [key, item] of Object.entries(value)) walk(item, shape.value, [...path, key]);
    } else if (shape.kind === "object" && isMapping(value)) {
      for (const [key, item] of Object.entries(value)) {
        const child = shape.keys.get(key);
        if (child !== undefined) walk(item, child, [...path, key]);
        else if (!shape.note.skipUnknownKeyWarnings) {
          const near = [...shape.keys.keys()].find((known) => known.toLowerCase() === key.toLowerCase());
          warnings.push({
            path: [...path, key],
            message: near ? `unknown key; did you mean "${near}"? (keys are case-sensitive)` : "unknown key: Berth ignores it",
            at: "key",
          });
        }
      }
    }
  };
  walk(doc, configSchema, []);
  return warnings;
}

// ---------------------------------------------------------------------------------------------
// Files the configuration points at

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

async function readConfigured(path: string): Promise<string | Error> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason =
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : (error as Error).message;
    return new Error(`cannot read ${path}: ${reason}`);
  }
}

/** Reads a PEM file that must hold one or more certificates. */
async function checkCertificates(path: string, where: KeyPath, findings: Findings, what = "certificate"): Promise<X509Certificate[]> {
  const content = await readConfigured(path);
  if (content instanceof Error) {
    findings.problems.push({ path: where, message: content.message });
    return [];
  }
  const blocks = [...content.matchAll(pemBlock)].filter((m) => m[1] === "CERTIFICATE");
  if (blocks.length === 0) {
    findings.problems.push({ path: where, message: `${path} holds no PEM ${what} ("-----BEGIN CERTIFICATE-----")` });
    return [];
  }
  const certificates: X509Certificate[] = [];
  blocks.forEach((block, index) => {
    try {
      const certificate = new X509Certificate(block[0]);
      certificates.push(certificate);
      if (Date.parse(certificate.validTo) < Date.now()) {
        findings.warnings.push({ path: where, message: `${path}: certificate #${index + 1} (${certificate.subject.replace(/\n/g, ", ")}) expired on ${certificate.validTo}` });
      }
    } catch (error) {
      findings.problems.push({ path: where, message: `${path}: certificate #${index + 1} is not a valid X.509 certificate (${(error as Error).message})` });
    }
  });
  return certificates;
}

async function checkHtpasswd(path: string, where: KeyPath, findings: Findings): Promise<void> {
  const content = await readConfigured(path);
  if (content instanceof Error) {
    findings.problems.push({ path: where, message: content.message });
    return;
  }
  const parsed = parseHtpasswd(content, path);
  findings.problems.push(...parsed.problems.map((message) => ({ path: where, message })));
  findings.warnings.push(...parsed.warnings.map((message) => ({ path: where, message })));
  if (parsed.users.size === 0 && parsed.problems.length === 0) findings.warnings.push({ path: where, message: `${path} has no entries: nobody can log in` });
}

/**
 * Checks the files the configuration names: TLS certificate and key (and that they belong
 * together), client CAs, the token auth certificate bundle or JWKS, the htpasswd file.
 * Relative paths are resolved against the working directory, as distribution does.
 */
export async function checkFiles(doc: Record<string, unknown>): Promise<Findings> {
  const findings: Findings = { problems: [], warnings: [] };
  const tasks: Promise<void>[] = [];

  const certificate = text(doc, ["http", "tls", "certificate"]);
  const key = text(doc, ["http", "tls", "key"]);
  if (certificate !== undefined || key !== undefined) {
    tasks.push(
      (async () => {
        const certs = certificate !== undefined ? await checkCertificates(certificate, ["http", "tls", "certificate"], findings) : [];
        if (key === undefined) return;
        const content = await readConfigured(key);
        if (content instanceof Error) {
          findings.problems.push({ path: ["http", "tls", "key"], message: content.message });
          return;
        }
        let privateKey: KeyObject;
        try {
          privateKey = createPrivateKey(content);
        } catch (error) {
          findings.problems.push({ path: ["http", "tls", "key"], message: `${key} is not a usable unencrypted PEM private key (${(error as Error).message})` });
          return;
        }
        const leaf = certs[0];
        if (leaf && !leaf.checkPrivateKey(privateKey)) {
          findings.problems.push({ path: ["http", "tls", "key"], message: `${key} does not belong to the certificate in ${certificate}` });
        }
      })(),
    );
  }
  const clientcas = get(doc, ["http", "tls", "clientcas"]);
  const caList = typeof clientcas === "string" ? [clientcas] : Array.isArray(clientcas) ? clientcas : [];
  caList.forEach((ca, index) => {
    const path = toText(ca);
    const where = typeof clientcas === "string" ? ["http", "tls", "clientcas"] : ["http", "tls", "clientcas", index];
    if (path) tasks.push(checkCertificates(path, where, findings, "CA certificate").then(() => undefined));
  });

  const token = get(doc, ["auth", "token"]);
  const bundle = text(token, ["rootcertbundle"]);
  if (bundle !== undefined) tasks.push(checkCertificates(bundle, ["auth", "token", "rootcertbundle"], findings).then(() => undefined));
  const jwks = text(token, ["jwks"]);
  if (jwks !== undefined) {
    tasks.push(
      (async () => {
        const content = await readConfigured(jwks);
        if (content instanceof Error) {
          findings.problems.push({ path: ["auth", "token", "jwks"], message: content.message });
          return;
        }
        try {
          parseJwks(content);
        } catch (error) {
          if (!(error instanceof JwksError)) throw error;
          findings.problems.push({ path: ["auth", "token", "jwks"], message: `${jwks} is not a JSON Web Key Set (${error.message})` });
        }
      })(),
    );
  }

  const htpasswd = text(doc, ["auth", "htpasswd", "path"]);
  if (htpasswd !== undefined) tasks.push(checkHtpasswd(htpasswd, ["auth", "htpasswd", "path"], findings));

  tasks.push(checkTokenServerFiles(doc, findings));
  await Promise.all(tasks);
  return findings;
}

// ---------------------------------------------------------------------------------------------
// tokenserver: Berth's built-in docker token server (server/auth/token-server.ts)

function tokenServerSection(doc: Record<string, unknown>): Record<string, unknown> | undefined {
  const section = doc.tokenserver;
  return isMapping(section) && toBoolean(section.enabled) === true ? section : undefined;
}

function crossCheckTokenServer(doc: Record<string, unknown>, findings: Findings): void {
  const section = tokenServerSection(doc);
  if (!section) return;
  const key = text(section, ["key"]);
  const certificate = text(section, ["certificate"]);
  if (key !== undefined && certificate === undefined) {
    findings.problems.push({ path: ["tokenserver", "certificate"], message: "is required with tokenserver.key: the certificate registries trust for that key" });
  }
  if (certificate !== undefined && key === undefined) {
    findings.problems.push({ path: ["tokenserver", "key"], message: "is required with tokenserver.certificate: the private key that signs the tokens" });
  }
  const expiration = section.expiration;
  if (expiration !== undefined && expiration !== null) {
    let ms: number | undefined;
    try {
      ms = typeof expiration === "number" ? expiration / 1e6 : typeof expiration === "string" ? parseDuration(expiration) : undefined;
    } catch {
      ms = undefined; // the schema reports the syntax
    }
    if (ms !== undefined && ms < 1000) {
      findings.problems.push({ path: ["tokenserver", "expiration"], message: `must be at least 1s (got ${JSON.stringify(expiration)})` });
    }
  }
  const groups = isMapping(section.groups) ? new Set(Object.keys(section.groups)) : new Set<string>();
  if (Array.isArray(section.rules)) {
    section.rules.forEach((rule, index) => {
      if (!isMapping(rule)) return;
      const named = typeof rule.groups === "string" ? [rule.groups] : Array.isArray(rule.groups) ? rule.groups : [];
      named.forEach((group, j) => {
        const name = toText(group);
        if (name !== undefined && !groups.has(name)) {
          const where = typeof rule.groups === "string" ? ["tokenserver", "rules", index, "groups"] : ["tokenserver", "rules", index, "groups", j];
          findings.problems.push({ path: where, message: `unknown group "${name}"; define it under tokenserver.groups` });
        }
      });
    });
  }
  if (text(section, ["users"]) === undefined) {
    findings.warnings.push({ path: ["tokenserver"], message: "has no users file (tokenserver.users): nobody can log in, only anonymous rules apply", at: "key" });
  }
}

async function checkTokenServerFiles(doc: Record<string, unknown>, findings: Findings): Promise<void> {
  const section = tokenServerSection(doc);
  if (!section) return;
  const tasks: Promise<void>[] = [];
  const users = text(section, ["users"]);
  if (users !== undefined) tasks.push(checkHtpasswd(users, ["tokenserver", "users"], findings));
  const certificate = text(section, ["certificate"]);
  const key = text(section, ["key"]);
  if (certificate !== undefined && key !== undefined) {
    tasks.push(
      (async () => {
        const certs = await checkCertificates(certificate, ["tokenserver", "certificate"], findings);
        const content = await readConfigured(key);
        if (content instanceof Error) {
          findings.problems.push({ path: ["tokenserver", "key"], message: content.message });
          return;
        }
        let privateKey: KeyObject;
        try {
          privateKey = createPrivateKey(content);
        } catch (error) {
          findings.problems.push({ path: ["tokenserver", "key"], message: `${key} is not a usable unencrypted PEM private key (${(error as Error).message})` });
          return;
        }
        const leaf = certs[0];
        if (leaf && !leaf.checkPrivateKey(privateKey)) {
          findings.problems.push({ path: ["tokenserver", "key"], message: `${key} does not belong to the first certificate in ${certificate}` });
        }
      })(),
    );
  }
  await Promise.all(tasks);
}
