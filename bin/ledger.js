#!/usr/bin/env node
// Entry point of the `ledger` CLI. The sources are TypeScript run through tsx's loader,
// so `npx ledger …` works right after `npm install`, with no build step.
import { register } from 'tsx/esm/api';
register();
await import('../cli/main.ts');
