/** The category (stream kind) of the Metering layer. Imported by every events.ts so the registry knows it first. */
import { defineCategory } from '../../schema/registry.ts';

defineCategory('Billing', 'metering', 'The billing book of the ledger (one stream, `Billing-main`): versioned price books, closed billing periods and explicit re-ratings of closed periods.');
