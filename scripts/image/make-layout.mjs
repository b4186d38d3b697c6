#!/usr/bin/env node
// Writes a small OCI image layout offline, for pushing with skopeo (`oci:DIR:TAG`): one gzip
// layer of random content, a config and a manifest. Usage: make-layout.mjs DIR [TAG] [LAYER_KB]
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const [dir, tag = "1.0", kb = "256"] = process.argv.slice(2);
if (!dir) {
  console.error("usage: make-layout.mjs DIR [TAG] [LAYER_KB]");
  process.exit(2);
}
const blobs = join(dir, "blobs", "sha256");
mkdirSync(blobs, { recursive: true });
const put = (bytes) => {
  const hex = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(join(blobs, hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
};

// A tar with one file of random bytes (ustar header + data + two zero blocks).
const content = randomBytes(Number(kb) * 1024);
const header = Buffer.alloc(512);
const field = (value, offset, length) => header.write(value, offset, length, "ascii");
field("smoke.bin", 0, 100);
field("0000644\0", 100, 8);
field("0000000\0", 108, 8);
field("0000000\0", 116, 8);
field(content.length.toString(8).padStart(11, "0") + "\0", 124, 12);
field(Math.floor(Date.now() / 1000).toString(8).padStart(11, "0") + "\0", 136, 12);
field("        ", 148, 8);
field("0", 156, 1);
field("ustar\0", 257, 6);
field("00", 263, 2);
const sum = header.reduce((total, byte) => total + byte, 0);
field(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
const tar = Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
const diffId = `sha256:${createHash("sha256").update(tar).digest("hex")}`;
const layer = put(gzipSync(tar));

const config = put(Buffer.from(JSON.stringify({
  architecture: "amd64",
  os: "linux",
  config: { Cmd: ["/smoke.bin"] },
  rootfs: { type: "layers", diff_ids: [diffId] },
  history: [{ created_by: "scripts/image/make-layout.mjs" }],
})));
const manifest = put(Buffer.from(JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
  layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
})));
writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
writeFileSync(join(dir, "index.json"), JSON.stringify({
  schemaVersion: 2,
  manifests: [{
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    ...manifest,
    annotations: { "org.opencontainers.image.ref.name": tag },
  }],
}));
console.log(manifest.digest);
