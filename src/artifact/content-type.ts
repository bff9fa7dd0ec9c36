import { extname } from 'node:path';

/** extension -> [Content-Type, worth precompressing] */
const TYPES: Record<string, [string, boolean]> = {
  html: ['text/html; charset=utf-8', true],
  htm: ['text/html; charset=utf-8', true],
  css: ['text/css; charset=utf-8', true],
  js: ['text/javascript; charset=utf-8', true],
  mjs: ['text/javascript; charset=utf-8', true],
  cjs: ['text/javascript; charset=utf-8', true],
  json: ['application/json; charset=utf-8', true],
  map: ['application/json; charset=utf-8', true],
  webmanifest: ['application/manifest+json; charset=utf-8', true],
  svg: ['image/svg+xml; charset=utf-8', true],
  xml: ['application/xml; charset=utf-8', true],
  rss: ['application/rss+xml; charset=utf-8', true],
  atom: ['application/atom+xml; charset=utf-8', true],
  txt: ['text/plain; charset=utf-8', true],
  md: ['text/markdown; charset=utf-8', true],
  csv: ['text/csv; charset=utf-8', true],
  wasm: ['application/wasm', true],
  ico: ['image/x-icon', true],
  ttf: ['font/ttf', true],
  otf: ['font/otf', true],
  png: ['image/png', false],
  jpg: ['image/jpeg', false],
  jpeg: ['image/jpeg', false],
  gif: ['image/gif', false],
  webp: ['image/webp', false],
  avif: ['image/avif', false],
  woff: ['font/woff', false],
  woff2: ['font/woff2', false],
  pdf: ['application/pdf', false],
  mp4: ['video/mp4', false],
  webm: ['video/webm', false],
  mp3: ['audio/mpeg', false],
  ogg: ['audio/ogg', false],
  wav: ['audio/wav', false],
  zip: ['application/zip', false],
  gz: ['application/gzip', false],
};

const DEFAULT: [string, boolean] = ['application/octet-stream', false];

/** `contentType('assets/app.js')` -> `{ type: 'text/javascript; charset=utf-8', compressible: true }` */
export function contentType(path: string): { type: string; compressible: boolean } {
  const [type, compressible] = TYPES[extname(path).slice(1).toLowerCase()] ?? DEFAULT;
  return { type, compressible };
}
