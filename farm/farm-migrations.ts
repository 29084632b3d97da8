/**
 * Every migration of the farm database, in the order they are applied. A module that keeps
 * state in the farm database exports its own Migration list (ids "<module>-<NNN>-<what>") and
 * is appended here; a migration, once released, is never edited (farm/db/migrate.ts refuses
 * one whose SQL changed): change a schema with a new migration at the end of its module's list.
 */
import type { Migration } from './db/migrate.js';
import { COORDINATOR_MIGRATIONS } from './coordinator/schema.js';
import { HISTORY_MIGRATIONS } from '../reports/history/postgres-store.js';

export const FARM_MIGRATIONS: readonly Migration[] = [...COORDINATOR_MIGRATIONS, ...HISTORY_MIGRATIONS];
