DROP TABLE payouts;
DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TABLE subscription_charges;
DROP TABLE subscriptions;
