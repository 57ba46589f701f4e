/** Token and cost accounting per workspace, provider and model, and daily token budgets. */
export { createAccounting, msUntilUtcMidnight, utcDay, type Accounting, type AccountingOptions, type UsageEvent, type UsageQuery, type UsageReport, type UsageTotals } from "./accounting.ts";
export { createBudgets, type Budgets, type BudgetsOptions, type BudgetStatus } from "./budgets.ts";
export { BUILTIN_PRICES, createPriceTable, type Price, type PriceTable } from "./prices.ts";
export type { UsageRow } from "./sql.ts";
