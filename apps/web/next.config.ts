// Where the build goes (relative to apps/web). Several checkouts' tests or
// developers building side by side in one tree each name their own.
const distDir = process.env.BERTH_NEXT_DIST_DIR || '.next';

const config = {
  distDir,
  // The engine's client-safe schemas are TypeScript sources in the workspace.
  transpilePackages: ['@berth/engine'],
  // server.ts owns the HTTP server; Next only renders and routes.
  poweredByHeader: false,
  reactStrictMode: true,
  // `npm run typecheck` checks types (with the engine's generated declarations);
  // the build only compiles, so server.ts can build on start without them.
  typescript: { ignoreBuildErrors: true },
};

export default config;
