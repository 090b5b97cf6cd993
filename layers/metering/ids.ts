/** The one stream of the Metering layer: price books, closed periods and re-ratings share one consistency boundary. */
export const BILLING_STREAM = 'Billing-main';
