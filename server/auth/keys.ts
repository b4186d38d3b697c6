import { createPrivateKey, generateKeyPair, randomBytes, type KeyObject, type X509Certificate } from "node:crypto";
import { link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "../log.js";
import { createSelfSignedCertificate, parseCertificates } from "./certs.js";
import { libtrustKeyId } from "./libtrust.js";

/** The token server's signing identity. */
export interface SigningKey {
  privateKey: KeyObject;
  /** The certificate of `privateKey`, first of `chain`. */
  certificate: X509Certificate;
  /** Sent as the JWT `x5c` header, signer first. */
  chain: X509Certificate[];
  /** JWS algorithm for the key: ES256 for P-256, RS256 for RSA, ... */
  algorithm: string;
  /** libtrust key ID of the public key, the JWT `kid`. */
  kid: string;
  keyPath: string;
  /** Point `auth.token.rootcertbundle` here. */
  certificatePath: string;
  /** True when this call created the key. */
  generated: boolean;
}

export const keyFileName = "key.pem";
export const certificateFileName = "cert.pem";

/** `<storage root, or ./data>/berth/token`, the default `tokenserver.keydir`. */
export function defaultTokenKeyDir(storageRoot?: string): string {
  return resolve(storageRoot ?? "data", "berth", "token");
}

export function algorithmFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1") return "ES256";
      if (curve === "secp384r1") return "ES384";
      if (curve === "secp521r1") return "ES512";
      throw new Error(`unsupported EC curve ${curve ?? "?"} (use P-256, P-384 or P-521)`);
    }
    case "rsa":
      return "RS256";
    case "ed25519":
      return "EdDSA";
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType ?? "?"} (use EC, RSA or Ed25519)`);
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read the token server's ${what} ${path}: ${(error as Error).message}`);
  }
}

function parseKey(pem: string, path: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new Error(`${path} is not a usable unencrypted PEM private key (${(error as Error).message})`);
  }
}

function assemble(privateKey: KeyObject, chain: X509Certificate[], keyPath: string, certificatePath: string, generated: boolean): SigningKey {
  const certificate = chain[0] as X509Certificate;
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new Error(`${keyPath} does not belong to the (first) certificate in ${certificatePath}`);
  }
  return { privateKey, certificate, chain, algorithm: algorithmFor(privateKey), kid: libtrustKeyId(privateKey), keyPath, certificatePath, generated };
}

/** A configured key and certificate (`tokenserver.key`, `tokenserver.certificate`). */
export async function loadSigningKey(keyPath: string, certificatePath: string): Promise<SigningKey> {
  const privateKey = parseKey(await readText(keyPath, "key"), keyPath);
  const chain = parseCertificates(await readText(certificatePath, "certificate"), certificatePath);
  return assemble(privateKey, chain, keyPath, certificatePath, false);
}

/** Writes `content` to `path` only if nothing is there yet (atomically: temp file + link). Returns false if it existed. */
async function createExclusive(path: string, content: string, mode: number): Promise<boolean> {
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, content, { mode });
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "EEXIST") return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return false;
    throw error;
  }
}

/**
 * The key in `keydir` (`key.pem`, `cert.pem`), created on first use: an ECDSA P-256 key and a
 * self-signed certificate valid ten years. Safe when several instances start at once on shared
 * storage: files are created exclusively, and the loser reads the winner's.
 */
export async function loadOrCreateSigningKey(keydir: string, logger: Logger, commonName = "Berth token server"): Promise<SigningKey> {
  const dir = resolve(keydir);
  const keyPath = join(dir, keyFileName);
  const certificatePath = join(dir, certificateFileName);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let generated = false;
  if (!(await exists(keyPath))) {
    const { privateKey } = await promisify(generateKeyPair)("ec", { namedCurve: "P-256" });
    generated = await createExclusive(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }) as string, 0o600);
  }
  const privateKey = parseKey(await readText(keyPath, "key"), keyPath);
  if (!(await exists(certificatePath))) {
    const certificate = await createSelfSignedCertificate(privateKey, { commonName });
    if (await createExclusive(certificatePath, certificate.toString(), 0o644)) {
      logger.info("token server: created a signing key and self-signed certificate; point auth.token.rootcertbundle at the certificate", {
        certificate: certificatePath,
        kid: libtrustKeyId(privateKey),
      });
    }
  }
  const chain = parseCertificates(await readText(certificatePath, "certificate"), certificatePath);
  return assemble(privateKey, chain, keyPath, certificatePath, generated);
}
