// Checks that both languages have the same keys and that every literal key
// the sources translate exists.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import en from '../src/i18n/en.js';
import zhCN from '../src/i18n/zh-CN.js';

function keys(table, prefix = '') {
  return Object.entries(table).flatMap(([name, value]) =>
    typeof value === 'object' ? keys(value, `${prefix}${name}.`) : [`${prefix}${name}`],
  );
}

function sources(directory) {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      return sources(path);
    }
    return /\.(js|vue)$/.test(entry.name) ? [path] : [];
  });
}

test('locales have the same keys', () => {
  const zhKeys = new Set(keys(zhCN));
  const enKeys = new Set(keys(en));
  assert.deepEqual([...zhKeys].filter((key) => !enKeys.has(key)), [], 'keys missing from en.js');
  assert.deepEqual([...enKeys].filter((key) => !zhKeys.has(key)), [], 'keys missing from zh-CN.js');
});

test('placeholders match across locales', () => {
  const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
  for (const key of keys(zhCN)) {
    const zhText = key.split('.').reduce((node, part) => node[part], zhCN);
    const enText = key.split('.').reduce((node, part) => node?.[part], en);
    assert.deepEqual(placeholders(zhText), placeholders(enText ?? ''), key);
  }
});

test('literal keys used in sources exist', () => {
  const known = new Set(keys(zhCN));
  const srcDir = new URL('../src', import.meta.url).pathname;
  const missing = [];
  for (const file of sources(srcDir)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\bt\('([\w.]+)'/g)) {
      if (!known.has(match[1])) {
        missing.push(`${file}: ${match[1]}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
