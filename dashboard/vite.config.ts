import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

// The dashboard is a static single-page app: `npm run build:dashboard` writes it to dist/dashboard,
// which the api role serves at / (src/api/dashboard.ts). Hashed names under assets/ are what make
// the api's immutable caching safe.
export default defineConfig({
  root: here,
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
  },
  // `npm run dev:dashboard` next to a running `slipway up` on :8080
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/hooks': 'http://127.0.0.1:8080' } },
});
