import { createPublicKey, webcrypto, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";

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

/** WebCrypto's import and signing parameters for the key, from its type and curve. */
function webCryptoAlgorithm(key: KeyObject): { key: webcrypto.Algorithm | webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams; signing: webcrypto.Algorithm | webcrypto.EcdsaParams } {
  const type = key.asymmetricKeyType;
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const named: Record<string, { namedCurve: string; hash: string }> = {
      prime256v1: { namedCurve: "P-256", hash: "SHA-256" },
      secp384r1: { namedCurve: "P-384", hash: "SHA-384" },
      secp521r1: { namedCurve: "P-521", hash: "SHA-512" },
    };
    const params = named[curve ?? ""];
    if (!params) throw new Error(`unsupported EC curve ${curve ?? "?"}`);
    return { key: { name: "ECDSA", namedCurve: params.namedCurve }, signing: { name: "ECDSA", hash: params.hash } };
  }
  if (type === "rsa") return { key: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, signing: { name: "RSASSA-PKCS1-v1_5" } };
  if (type === "ed25519") return { key: { name: "Ed25519" }, signing: { name: "Ed25519" } };
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
 * as a root certificate bundle: CA, key usages digitalSignature and keyCertSign. @peculiar/x509
 * writes and signs it through node's WebCrypto; node:crypto reads the result back and checks it
 * against the key.
 */
export async function createSelfSignedCertificate(privateKey: KeyObject, options: SelfSignedOptions): Promise<X509Certificate> {
  const algorithm = webCryptoAlgorithm(privateKey);
  const keys = {
    privateKey: await webcrypto.subtle.importKey("pkcs8", privateKey.export({ type: "pkcs8", format: "der" }), algorithm.key, false, ["sign"]),
    publicKey: await webcrypto.subtle.importKey("spki", createPublicKey(privateKey).export({ type: "spki", format: "der" }), algorithm.key, true, ["verify"]),
  };
  const now = options.now ?? new Date();
  // An hour back, so a verifier whose clock is a little behind accepts it at once.
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60 * 60 * 1000);
  const x509 = await loadX509();
  const generated = await x509.X509CertificateGenerator.createSelfSigned(
    {
      keys,
      // As a UTF8String, taken as it is: the string and plain-JSON forms of a name parse escapes.
      name: new x509.Name([{ CN: [{ utf8String: options.commonName }] }]),
      notBefore,
      notAfter: new Date(notBefore.getTime() + (options.validDays ?? 3650) * 24 * 60 * 60 * 1000),
      signingAlgorithm: algorithm.signing,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      ],
    },
    webcrypto as Crypto,
  );
  const certificate = new X509Certificate(Buffer.from(generated.rawData));
  if (!certificate.verify(certificate.publicKey) || !certificate.checkPrivateKey(privateKey)) {
    throw new Error("the generated certificate does not verify against its key");
  }
  return certificate;
}

/** PEM text of a certificate. */
export function certificatePem(certificate: X509Certificate): string {
  return certificate.toString();
}

/**
 * @peculiar/x509 (about 20 MiB resident) loads only when a certificate is made. It resolves its
 * algorithm providers through tsyringe, which needs the Reflect metadata polyfill loaded first.
 */
async function loadX509() {
  await import("reflect-metadata");
  return import("@peculiar/x509");
}
