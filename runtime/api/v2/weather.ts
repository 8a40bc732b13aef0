// The Signal K v2 weather API, served by plugins registered as weather providers
// (sk_register_weather_provider + weather_get_observations / _forecasts / _warnings), with
// upstream's routes: observations, forecasts/daily, forecasts/point, warnings at ?lat=&lon=
// (400 without a valid position), `?provider=<plugin id>` or the first registered; `count` and
// `date` become options, other parameters `options.custom`. A provider handler may fetch (as-fetch):
// the request waits for it, bounded by the provider call (runtime/plugins/provider-call.ts). Who
// may call: readonly.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JsonValue } from '../../../core/json.js';
import type { ApiRoutes } from '../types.js';
import type { ProviderReply } from '../../plugins/provider-call.js';
import { providerRoutes, type ProviderChoice } from './provider-routes.js';

const BASE = '/signalk/v2/api/weather';

export type WeatherOp = 'observations' | 'forecasts' | 'warnings';

export interface WeatherProviders extends ProviderChoice {
  call(pluginId: string, op: WeatherOp, request: Record<string, JsonValue>): Promise<ProviderReply>;
}

const failed = (statusCode: number, message: string) => ({ state: 'FAILED', statusCode, message });

/** Upstream's query options: position from lat/lon, maxCount from count, startDate from date, the rest custom. */
function parseQuery(
  query: Record<string, string | undefined>,
): { position: { latitude: number; longitude: number }; options: Record<string, JsonValue> } | string {
  const { lat, lon, provider: _provider, token: _token, count, date, ...custom } = query;
  if (lat === undefined || lon === undefined || lat === '' || lon === '') return 'Location not supplied!';
  const latitude = Number(lat);
  const longitude = Number(lon);
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180)
    return 'Invalid position data!';
  const options: Record<string, JsonValue> = { custom: custom as Record<string, JsonValue> };
  if (count !== undefined && Number.isFinite(Number(count))) options.maxCount = Number(count);
  if (date !== undefined && /^[0-9]{4}-[0-9]{2}-[0-9]{2}/.test(date)) options.startDate = date;
  return { position: { latitude, longitude }, options };
}

export function weatherRoutes(providers: WeatherProviders): ApiRoutes {
  const answer = async (
    req: FastifyRequest,
    reply: FastifyReply,
    op: WeatherOp,
    type?: 'daily' | 'point',
  ): Promise<unknown> => {
    const query = req.query as Record<string, string | undefined>;
    const parsed = parseQuery(query);
    if (typeof parsed === 'string') return reply.code(400).send(failed(400, parsed));
    const all = providers.list();
    if (all.length === 0) return reply.code(400).send(failed(400, 'No providers registered!'));
    const chosen =
      query.provider === undefined ? all.find((p) => p.isDefault) : all.find((p) => p.id === query.provider);
    if (!chosen) return reply.code(400).send(failed(400, `Requested provider not found! (${query.provider})`));
    const request: Record<string, JsonValue> =
      op === 'warnings'
        ? { position: parsed.position }
        : op === 'forecasts'
          ? { position: parsed.position, type: type ?? 'point', options: parsed.options }
          : { position: parsed.position, options: parsed.options };
    const result = await providers.call(chosen.id, op, request);
    if ('error' in result) return reply.code(result.status).send(failed(result.status, result.error));
    let value: unknown;
    try {
      value = JSON.parse(result.text);
    } catch {
      return reply
        .code(502)
        .send(
          failed(
            502,
            `weather_get_${op} of ${chosen.id} answered text that is not JSON: ${JSON.stringify(result.text.slice(0, 80))}`,
          ),
        );
    }
    if (!Array.isArray(value))
      return reply
        .code(502)
        .send(failed(502, `weather_get_${op} of ${chosen.id} answered ${typeof value}, not a JSON array`));
    return type === undefined
      ? value
      : value.filter((i) => typeof i === 'object' && i !== null && (i as { type?: unknown }).type === type);
  };
  return (app) => {
    const read = { config: { access: 'read' as const } };
    app.get(BASE, read, () => ({
      forecasts: { description: 'Forecast data for the supplied location.' },
      observations: { description: 'Observation data for the supplied location.' },
      warnings: { description: 'Weather warnings for the supplied location.' },
    }));
    providerRoutes(app, BASE, providers);
    app.get(`${BASE}/observations`, read, (req, reply) => answer(req, reply, 'observations'));
    app.get(`${BASE}/forecasts`, read, () => ({
      daily: { description: 'Daily forecast data for the requested number of days.' },
      point: { description: 'Point forecast data for the requested number of intervals.' },
    }));
    app.get(`${BASE}/forecasts/daily`, read, (req, reply) => answer(req, reply, 'forecasts', 'daily'));
    app.get(`${BASE}/forecasts/point`, read, (req, reply) => answer(req, reply, 'forecasts', 'point'));
    app.get(`${BASE}/warnings`, read, (req, reply) => answer(req, reply, 'warnings'));
  };
}
