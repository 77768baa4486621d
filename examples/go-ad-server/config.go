package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// config is the example's settings, from the environment.
type config struct {
	campaignURL string // CAMPAIGN_URL: the CampaignService (npm start: 127.0.0.1:50053)
	budgetURL   string // BUDGET_URL: the BudgetService (npm start: 127.0.0.1:50052)
	token       string // ADBUDGET_TOKEN: an ad-server token of the brand
	brandID     string // BRAND_ID: the brand whose campaigns this server serves
	spoolDir    string // SPOOL_DIR: where accepted spend waits until it is counted
	port        string // PORT: where this server listens
	priceMicros int64  // PRICE_MICROS: the spend of one served ad
}

// loadConfig reads the settings; every problem is named, all at once.
func loadConfig(getenv func(string) string) (config, error) {
	or := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := config{
		campaignURL: or("CAMPAIGN_URL", "http://127.0.0.1:50053"),
		budgetURL:   or("BUDGET_URL", "http://127.0.0.1:50052"),
		token:       or("ADBUDGET_TOKEN", ""),
		brandID:     or("BRAND_ID", ""),
		spoolDir:    or("SPOOL_DIR", "./.spool"),
		port:        or("PORT", "8081"),
	}
	var problems []error
	if c.token == "" {
		problems = append(problems, errors.New("ADBUDGET_TOKEN is required: an ad-server token of the brand, such as "+
			"ADBUDGET_TOKEN=$(npm run -s token -- --role ad-server --brand <brand id> --ttl 12h)"))
	}
	if c.brandID == "" {
		problems = append(problems, errors.New("BRAND_ID is required: the id of the brand whose campaigns this server serves"))
	}
	price, err := strconv.ParseInt(or("PRICE_MICROS", "2000"), 10, 64)
	if err != nil || price <= 0 || price > 1_000_000_000_000_000 {
		problems = append(problems, fmt.Errorf("PRICE_MICROS must be a whole number of micros, more than 0 and at most 10^15, not %q", getenv("PRICE_MICROS")))
	}
	c.priceMicros = price
	if _, err := strconv.ParseUint(c.port, 10, 16); err != nil {
		problems = append(problems, fmt.Errorf("PORT must be a port number, not %q", c.port))
	}
	return c, errors.Join(problems...)
}
