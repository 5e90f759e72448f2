-- The origins whose pages may call the device's routes (`/v1/submissions*`, `/v1/jobs/*`)
-- from a browser (CORS), for integrators who host the web package on their own site
-- (space-separated); NULL: none.
ALTER TABLE tenants ADD COLUMN web_origins TEXT;
