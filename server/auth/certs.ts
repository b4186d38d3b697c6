import { createPublicKey, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import * as der from "./der.js";

const pemCertificate = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM text; throws when there is none or one does not parse. */
export function parseCertificates(pem: string, source = "PEM"): X509Certificate[] {
  const blocks = pem.match(pemCertificate) ?? [];
  if (blocks.length === 0) throw new Error(`${source} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`${source}: certificate #${index + 1} is not a valid X.509 certificate (${(error as Error).message})`);
    }
  });
}

/** `auth.token.rootcertbundle`: the certificates whose keys may sign tokens. */
export function readCertificateBundle(path: string): X509Certificate[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read the certificate bundle ${path}: ${(error as Error).message}`);
  }
  return parseCertificates(text, path);
}

function validAt(certificate: X509Certificate, now: Date): boolean {
  return Date.parse(certificate.validFrom) <= now.getTime() && now.getTime() <= Date.parse(certificate.validTo);
}

function describe(certificate: X509Certificate): string {
  return certificate.subject.replace(/\n/g, ", ") || certificate.fingerprint256;
}

/**
 * The signing key of a JWS `x5c` header (base64 DER certificates, signer first), once the chain
 * is checked: each certificate is in its validity period and signed by the next (a CA), and the
 * chain reaches a trusted certificate — either one of its own certificates is in `anchors` or the
 * last one is signed by an anchor that is a CA. Throws with the reason otherwise.
 */
export function verifyX5c(x5c: unknown, anchors: X509Certificate[], now = new Date()): KeyObject {
  if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((item) => typeof item === "string")) {
    throw new Error("x5c header is not a list of certificates");
  }
  const chain = (x5c as string[]).map((item, index) => {
    try {
      return new X509Certificate(Buffer.from(item, "base64"));
    } catch {
      throw new Error(`x5c certificate #${index + 1} does not parse`);
    }
  });
  const trusted = (certificate: X509Certificate) => anchors.some((anchor) => anchor.raw.equals(certificate.raw));
  for (let i = 0; i < chain.length; i++) {
    const certificate = chain[i] as X509Certificate;
    if (!validAt(certificate, now)) throw new Error(`x5c certificate ${describe(certificate)} is not valid now (${certificate.validFrom} – ${certificate.validTo})`);
    if (trusted(certificate)) return (chain[0] as X509Certificate).publicKey;
    const issuer = chain[i + 1];
    if (issuer) {
      if (!issuer.ca || !certificate.checkIssued(issuer) || !certificate.verify(issuer.publicKey)) {
        throw new Error(`x5c certificate ${describe(certificate)} is not signed by the next certificate of the chain`);
      }
      continue;
    }
    const anchor = anchors.find((a) => a.ca && validAt(a, now) && certificate.checkIssued(a) && certificate.verify(a.publicKey));
    if (anchor) return (chain[0] as X509Certificate).publicKey;
  }
  throw new Error("x5c chain does not lead to a certificate of the root certificate bundle");
}

interface SignatureScheme {
  oid: string;
  /** RSA's AlgorithmIdentifier carries an explicit NULL; ECDSA and Ed25519 have no parameters. */
  nullParams: boolean;
  hash: string | null;
}

function signatureScheme(key: KeyObject): SignatureScheme {
  const type = key.asymmetricKeyType;
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return { oid: "1.2.840.10045.4.3.2", nullParams: false, hash: "sha256" };
    if (curve === "secp384r1") return { oid: "1.2.840.10045.4.3.3", nullParams: false, hash: "sha384" };
    if (curve === "secp521r1") return { oid: "1.2.840.10045.4.3.4", nullParams: false, hash: "sha512" };
    throw new Error(`unsupported EC curve ${curve ?? "?"}`);
  }
  if (type === "rsa") return { oid: "1.2.840.113549.1.1.11", nullParams: true, hash: "sha256" };
  if (type === "ed25519") return { oid: "1.3.101.112", nullParams: false, hash: null };
  throw new Error(`unsupported key type ${type ?? "?"}`);
}

export interface SelfSignedOptions {
  commonName: string;
  /** Default 3650 (ten years). */
  validDays?: number;
  now?: Date;
}

/**
 * A self-signed X.509 v3 certificate for `privateKey` (EC P-256/384/521, RSA or Ed25519), usable
 * as a root certificate bundle: CA, key usages digitalSignature and keyCertSign. The body is DER
 * written by der.ts; node:crypto signs it and parses the result, which is checked against the key.
 */
export function createSelfSignedCertificate(privateKey: KeyObject, options: SelfSignedOptions): X509Certificate {
  const scheme = signatureScheme(privateKey);
  const algorithm = der.sequence(der.objectIdentifier(scheme.oid), ...(scheme.nullParams ? [der.nullValue()] : []));
  const name = der.sequence(der.set(der.sequence(der.objectIdentifier("2.5.4.3"), der.utf8String(options.commonName))));
  const now = options.now ?? new Date();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60 * 60 * 1000);
  const notAfter = new Date(notBefore.getTime() + (options.validDays ?? 3650) * 24 * 60 * 60 * 1000);
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01;
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const extension = (oid: string, critical: boolean, value: Buffer) =>
    der.sequence(der.objectIdentifier(oid), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
  const extensions = der.sequence(
    // basicConstraints: cA TRUE
    extension("2.5.29.19", true, der.sequence(der.boolean(true))),
    // keyUsage: digitalSignature (bit 0) + keyCertSign (bit 5) → 0b10000100, two unused bits
    extension("2.5.29.15", true, der.tlv(0x03, Buffer.from([0x02, 0x84]))),
  );
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(serial),
    algorithm,
    name,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    name,
    spki,
    der.explicit(3, extensions),
  );
  const signature = sign(scheme.hash, tbs, privateKey);
  const certificate = new X509Certificate(der.sequence(tbs, algorithm, der.bitString(signature)));
  if (!certificate.verify(certificate.publicKey) || !certificate.checkPrivateKey(privateKey)) {
    throw new Error("the generated certificate does not verify against its key");
  }
  return certificate;
}

/** PEM text of a certificate. */
export function certificatePem(certificate: X509Certificate): string {
  return certificate.toString();
}
