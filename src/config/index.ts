export * from './schema.js';
export * from './resolve.js';
export * from './load.js';
export * from './json-schema.js';
