const config = {
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
