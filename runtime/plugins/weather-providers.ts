// Which plugins serve the v2 weather API (sk_register_weather_provider), under the name they gave;
// emptied when a plugin's instance goes away. The default is kept as upstream (./named-providers.ts).

import { NamedProviders } from './named-providers.js';

export class WeatherProviderRegistry extends NamedProviders {}
