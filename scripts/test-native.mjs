// Builds the C++ unit tests with AddressSanitizer + UBSan and runs them with ctest.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'build', 'native-tests');
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root });
run('cmake', ['-S', '.', '-B', dir, '-G', 'Ninja', '-DWINNOW_BUILD_TESTS=ON', '-DWINNOW_SANITIZE=ON', '-DCMAKE_BUILD_TYPE=RelWithDebInfo']);
run('cmake', ['--build', dir]);
run('ctest', ['--test-dir', dir, '--output-on-failure']);
