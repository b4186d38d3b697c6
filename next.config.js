/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The registry engine and tRPC live in the custom server (server/serve.ts); Next only renders pages.
  // `npm test` type-checks the whole repository once with tsc; the build need not do it again.
  typescript: { ignoreBuildErrors: true },
};

export default nextConfig;
