#!/usr/bin/env node
// Stands in for node-gyp under prebuildify: whatever it is asked ("rebuild ..."), build with cmake-js.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit', cwd: root });
