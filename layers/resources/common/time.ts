import { z } from 'zod';

/** A UTC ISO 8601 time ending in Z (times always come from command data or event metadata, never from a clock here). */
export const UtcTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/, 'a UTC ISO 8601 time ending in Z');
