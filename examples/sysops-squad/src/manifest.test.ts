/**
 * The reference system's `converge.yaml` is true to its code: the manifest is sound, and each
 * service owns exactly the tables its code creates (as an event-based service and as a participant
 * of the orchestrated variant), so `converge ownership check` in CI would
 * catch a table added to a service without a declaration.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseManifest } from '@converge/core';
import { describe, expect, it } from 'vitest';
import { PARTICIPANTS } from './orchestrated/participant-server.js';
import { PARTICIPANT_TABLES } from './orchestrated/participants.js';
import { SERVICES, TABLES } from './services/start-service.js';

const file = fileURLToPath(new URL('../converge.yaml', import.meta.url));
const { manifest, problems } = parseManifest(readFileSync(file, 'utf8'), { file: 'converge.yaml' });

/** The tables a service's schema statements create, in both patterns (distinct, sorted). */
const createdTables = (service: (typeof SERVICES)[number]): string[] => {
  const participant = (PARTICIPANTS as readonly string[]).includes(service)
    ? PARTICIPANT_TABLES[service as (typeof PARTICIPANTS)[number]]
    : [];
  const names = [...TABLES[service], ...participant]
    .map((sql) => /^CREATE TABLE IF NOT EXISTS (\w+)/.exec(sql)?.[1])
    .filter((name): name is string => name !== undefined);
  return [...new Set(names)].sort();
};

describe('examples/sysops-squad/converge.yaml', () => {
  it('is a sound manifest', () => {
    expect(problems).toEqual([]);
  });

  it.each(SERVICES)('declares exactly the tables %s creates', (service) => {
    const declared = manifest?.services.find((entry) => entry.name === service.replaceAll('-', '_'));
    expect(declared?.owns.slice().sort()).toEqual(createdTables(service));
  });

  it('covers single, common and joint ownership', () => {
    expect(manifest?.shared.map((shared) => shared.ownership).sort()).toEqual(['common', 'joint']);
    expect(manifest?.services.every((service) => service.owns.length > 0)).toBe(true);
  });
});
