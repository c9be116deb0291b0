/** Quantities and durations as Ganeti writes them. */

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatBytes, formatDuration, parseDuration, parseQuantity } from '../../src/model/quantity.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

test('binary units, with or without i', () => {
  assert.is(parseQuantity('512M'), 512 * MiB);
  assert.is(parseQuantity('512Mi'), 512 * MiB);
  assert.is(parseQuantity('1G'), GiB);
  assert.is(parseQuantity('10Gi'), 10 * GiB);
  assert.is(parseQuantity('1.5T'), 1.5 * 1024 * GiB);
  assert.is(parseQuantity('2Ti'), 2 * 1024 * GiB);
  assert.is(parseQuantity('64K'), 64 * 1024);
});

test('a bare number is MiB, as text or as a YAML number', () => {
  assert.is(parseQuantity('2048'), 2 * GiB);
  assert.is(parseQuantity(2048), 2 * GiB);
  assert.is(parseQuantity(0.5), 512 * 1024);
  assert.is(parseQuantity(' 1 G '), GiB);
});

test('not quantities', () => {
  for (const bad of ['12X', '', 'G', '1GB', '-5', '1e3', '1,5G', 'lots', '1 000M', '1g']) {
    assert.is(parseQuantity(bad), undefined, bad);
  }
  assert.is(parseQuantity(-1), undefined);
});

test('durations', () => {
  assert.is(parseDuration('250ms'), 250);
  assert.is(parseDuration('30s'), 30_000);
  assert.is(parseDuration('5m'), 300_000);
  assert.is(parseDuration('1h'), 3_600_000);
  assert.is(parseDuration('1.5m'), 90_000);
  assert.is(parseDuration('0s'), 0);
  assert.is(parseDuration(30), 30_000); // a bare number is seconds
});

test('not durations', () => {
  for (const bad of ['30', '5d', '30 sec', '', 'ms', '-1s', '1m30s']) assert.is(parseDuration(bad), undefined, bad);
});

test('formatting for tables', () => {
  assert.is(formatBytes(512 * MiB), '512M');
  assert.is(formatBytes(1.5 * GiB), '1.5G');
  assert.is(formatBytes(2 * 1024 * GiB), '2T');
  assert.is(formatBytes(100), '100B');
  assert.is(formatDuration(250), '250ms');
  assert.is(formatDuration(90_000), '1m30s');
});

test.run();
