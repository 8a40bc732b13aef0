// The Signal K v2 radar API (signalk-server 2.32's RadarApi, API version 3.4.0), served by plugins
// registered as radar providers (sk_register_radar_provider + their radar_* exports):
//   GET    /signalk/v2/api/vessels/self/radars                         {version, radars: {<id>: info}}
//   GET    .../radars/_providers, .../_providers/_default              the providers, the default
//   POST   .../radars/_providers/_default/<plugin id>                  choose the default
//   GET    .../radars/<id>                                             radar_get_radar_info
//   PUT    .../radars/<id>                                             radar_set_controls
//   PUT    .../radars/<id>/power|range|gain|sea|rain                   radar_set_control, else radar_set_<name>
//   GET    .../radars/<id>/capabilities | state | controls             radar_get_capabilities / radar_get_state
//   GET    .../radars/<id>/controls/<control>, PUT the same            radar_get_control / radar_set_control
//   GET    .../radars/<id>/targets, POST it, DELETE .../targets/<n>    radar_get_targets / _acquire_target / _cancel_target
//   GET    .../radars/<id>/arpa/settings, PUT it                       radar_get_arpa_settings / _set_arpa_settings
// Spokes are the WebSocket .../radars/<id>/spokes (runtime/api/binary-streams.ts). A radar is
// served by the first provider whose radar_get_radars lists it. Unlike upstream, a provider that
// fails says so: its status (500 crashed, 503 not running, 504 no answer in time, 502 an answer
// that is not what the export must return) instead of an empty list or a 404, and an export the
// plugin lacks is 501. Who may call: reading needs readonly, every change readwrite.

import type { FastifyInstance, FastifyReply } from 'fastify';
import { isRecord, type JsonValue } from '../../../core/json.js';
import type { ApiRoutes } from '../types.js';
import type { ProviderReply } from '../../plugins/provider-call.js';
import { createLogger } from '../../../core/log.js';
import { providerRoutes, type ProviderChoice } from './provider-routes.js';

const log = createLogger('radars');
export const RADARS_PATH = '/signalk/v2/api/vessels/self/radars';
/** The Radar API version signalk-server 2.32 reports (dist/api/radar/index.js RADAR_API_VERSION). */
export const RADAR_API_VERSION = '3.4.0';
const POWER_STATES = ['off', 'standby', 'transmit', 'warming'];
const TWO_PI = 2 * Math.PI;

export type RadarHandler =
  | 'radar_get_radars'
  | 'radar_get_radar_info'
  | 'radar_set_power'
  | 'radar_set_range'
  | 'radar_set_gain'
  | 'radar_set_sea'
  | 'radar_set_rain'
  | 'radar_set_controls'
  | 'radar_get_capabilities'
  | 'radar_get_state'
  | 'radar_get_control'
  | 'radar_set_control'
  | 'radar_get_targets'
  | 'radar_acquire_target'
  | 'radar_cancel_target'
  | 'radar_get_arpa_settings'
  | 'radar_set_arpa_settings';

export interface RadarProviders extends ProviderChoice {
  /** Records the radar ids a provider listed; returns those it serves (ids claimed by another provider stay theirs). */
  claim(pluginId: string, radarIds: readonly string[]): string[];
  /** The provider's module exports the handler (true when unknown: the call then says why it failed). */
  supports(pluginId: string, handler: RadarHandler): boolean;
  call(pluginId: string, handler: RadarHandler, request: Record<string, JsonValue>): Promise<ProviderReply>;
}

interface Failure {
  status: number;
  message: string;
}
type Parsed = { ok: true; value: JsonValue } | ({ ok: false } & Failure);

const OK = { state: 'COMPLETED', statusCode: 200, message: 'OK' };
/** Upstream's Responses.notFound, what it answers for an unknown radar on these routes. */
const NOT_FOUND: Failure = { status: 404, message: 'Resource not found.' };

function send(reply: FastifyReply, f: Failure): FastifyReply {
  return reply.code(f.status).send({ state: 'FAILED', statusCode: f.status, message: f.message });
}

/** The export's answer as JSON, or the failure it stands for. */
function parse(pluginId: string, handler: RadarHandler, reply: ProviderReply): Parsed {
  if ('error' in reply) {
    log.limited('warn', `${pluginId}:${handler}`, reply.error);
    return { ok: false, status: reply.status, message: reply.error };
  }
  try {
    return { ok: true, value: JSON.parse(reply.text) as JsonValue };
  } catch {
    return {
      ok: false,
      status: 502,
      message: `plugin ${pluginId}: ${handler} answered text that is not JSON: ${JSON.stringify(reply.text.slice(0, 80))}`,
    };
  }
}

/** The body as an object (`{}` for anything else: the routes then say what is missing). */
const bodyOf = (body: unknown): Record<string, JsonValue> =>
  isRecord(body) ? (body as Record<string, JsonValue>) : {};

/** Upstream's unwrapControlPayload: `{value: x}` alone is the PUT envelope of x; any other body is the payload itself. */
function controlPayload(body: unknown): JsonValue {
  const keys = isRecord(body) ? Object.keys(body) : [];
  return keys.length === 1 && keys[0] === 'value'
    ? (body as { value: JsonValue }).value
    : ((body ?? null) as JsonValue);
}

type Payload = { value: JsonValue } | { invalid: string };

/** The shortcut control routes: the body's payload, checked as upstream checks it, and the typed export that predates radar_set_control. */
interface Shortcut {
  legacy: RadarHandler;
  /** The typed export's request key for the payload. */
  key: string;
  method: string;
  failed: string;
  payload(body: Record<string, JsonValue>): Payload;
}

/** gain, sea, rain: `{value: {auto, value?}}` or the object itself, with a boolean `auto`. */
const autoControl = (name: string, legacy: RadarHandler, method: string, failed: string): Shortcut => ({
  legacy,
  key: name,
  method,
  failed,
  payload: (b) => {
    const v = isRecord(b.value) ? (b.value as Record<string, JsonValue>) : b;
    return typeof v.auto === 'boolean'
      ? { value: v }
      : { invalid: `Invalid ${name} value. Must have "auto" boolean property` };
  },
});

const SHORTCUTS: Record<string, Shortcut> = {
  power: {
    legacy: 'radar_set_power',
    key: 'state',
    method: 'setPower',
    failed: 'Failed to set radar power state',
    payload: (b) =>
      typeof b.value === 'string' && POWER_STATES.includes(b.value)
        ? { value: b.value }
        : { invalid: 'Invalid power state. Must be: off, standby, transmit, or warming' },
  },
  range: {
    legacy: 'radar_set_range',
    key: 'range',
    method: 'setRange',
    failed: 'Failed to set radar range',
    payload: (b) =>
      typeof b.value === 'number' && b.value > 0
        ? { value: b.value }
        : { invalid: 'Invalid range value. Must be a positive number (meters)' },
  },
  gain: autoControl('gain', 'radar_set_gain', 'setGain', 'Failed to set radar gain'),
  sea: autoControl('sea', 'radar_set_sea', 'setSea', 'Failed to set radar sea clutter'),
  rain: autoControl('rain', 'radar_set_rain', 'setRain', 'Failed to set radar rain clutter'),
};

export function radarRoutes(providers: RadarProviders): ApiRoutes {
  const call = async (pluginId: string, handler: RadarHandler, request: Record<string, JsonValue>): Promise<Parsed> =>
    parse(pluginId, handler, await providers.call(pluginId, handler, request));

  /** The radar ids a provider serves (its radar_get_radars answer, less ids another provider claimed). */
  const radarsOf = async (pluginId: string): Promise<{ ids: string[] } | Failure> => {
    const r = await call(pluginId, 'radar_get_radars', {});
    if (!r.ok) return r;
    if (!Array.isArray(r.value) || !r.value.every((v) => typeof v === 'string')) {
      return {
        status: 502,
        message: `plugin ${pluginId}: radar_get_radars answered ${JSON.stringify(r.value).slice(0, 80)}, not a JSON array of radar ids`,
      };
    }
    return { ids: providers.claim(pluginId, r.value as string[]) };
  };

  /** The provider serving a radar; when none lists it, the first provider failure (so a broken provider is not a 404) or `notFound`. */
  const owner = async (radarId: string, notFound: Failure): Promise<{ pluginId: string } | Failure> => {
    let failure: Failure | undefined;
    for (const { id } of providers.list()) {
      const r = await radarsOf(id);
      if ('ids' in r) {
        if (r.ids.includes(radarId)) return { pluginId: id };
      } else failure ??= r;
    }
    return failure ?? notFound;
  };

  /** `{error}` from a getter means it has nothing for the radar (upstream: null); null too. */
  const found = (r: Parsed, notFound: Failure): { value: JsonValue } | Failure => {
    if (!r.ok) return r;
    if (r.value === null || (isRecord(r.value) && r.value.error !== undefined)) return notFound;
    return { value: r.value };
  };

  /** A setter's answer: `true` (boolean exports) or `{success, error?}` (result exports). */
  const outcome = (r: Parsed, failedMessage: string): { ok: true; value: Record<string, JsonValue> } | Failure => {
    if (!r.ok) return r;
    if (r.value === true) return { ok: true, value: {} };
    if (isRecord(r.value) && r.value.success === true) return { ok: true, value: r.value as Record<string, JsonValue> };
    const why = isRecord(r.value) && typeof r.value.error === 'string' ? r.value.error : failedMessage;
    return { status: 400, message: why };
  };

  const unsupported = (what: string): Failure => ({ status: 501, message: `Provider does not support ${what}` });
  const radarNotFound = (id: string): Failure => ({ status: 404, message: `Radar ${id} not found` });

  return (app: FastifyInstance) => {
    // Radar data changes at any moment (status, controls): never cached, as upstream.
    app.addHook('onRequest', async (req, reply) => {
      if (req.url.startsWith(RADARS_PATH)) void reply.header('cache-control', 'no-cache');
    });
    const read = { config: { access: 'read' as const } };
    const write = { config: { access: 'write' as const } };
    type Req = { Params: { id: string; controlId?: string; targetId?: string } };

    /**
     * A read of one radar through `handler`; `pick` takes part of its answer. `missing`: the answer
     * when no provider lists the radar; `empty`: when the provider has nothing for the request.
     */
    const getter = (
      path: string,
      handler: RadarHandler,
      what: string,
      opts: {
        request?: (p: Req['Params']) => Record<string, JsonValue>;
        pick?: (v: JsonValue) => JsonValue | undefined;
        missing?: (p: Req['Params']) => Failure;
        empty?: (p: Req['Params']) => Failure;
      } = {},
    ): void => {
      const {
        request = (p) => ({ radarId: p.id }),
        pick = (v) => v,
        missing = (p) => radarNotFound(p.id),
        empty = missing,
      } = opts;
      app.get<Req>(`${RADARS_PATH}/${path}`, read, async (req, reply) => {
        const o = await owner(req.params.id, missing(req.params));
        if (!('pluginId' in o)) return send(reply, o);
        if (!providers.supports(o.pluginId, handler)) return send(reply, unsupported(what));
        const r = found(await call(o.pluginId, handler, request(req.params)), empty(req.params));
        if (!('value' in r)) return send(reply, r);
        const value = pick(r.value);
        return value === undefined ? send(reply, empty(req.params)) : value;
      });
    };

    app.get(RADARS_PATH, read, async (_req, reply) => {
      const radars: Record<string, JsonValue> = {};
      const all = providers.list();
      let failure: Failure | undefined;
      let answered = 0;
      for (const { id } of all) {
        const r = await radarsOf(id);
        if (!('ids' in r)) {
          failure ??= r;
          continue;
        }
        answered++;
        for (const radarId of r.ids) {
          const info = found(await call(id, 'radar_get_radar_info', { radarId }), NOT_FOUND);
          if ('value' in info) radars[radarId] = info.value;
        }
      }
      // Every provider failed: say why rather than list no radars.
      if (failure && answered === 0) return send(reply, failure);
      return { version: RADAR_API_VERSION, radars };
    });

    providerRoutes(app, RADARS_PATH, providers);

    getter(':id', 'radar_get_radar_info', 'getRadarInfo', { missing: () => NOT_FOUND });
    getter(':id/capabilities', 'radar_get_capabilities', 'getCapabilities');
    getter(':id/state', 'radar_get_state', 'getState');
    getter(':id/controls', 'radar_get_state', 'getState', { pick: (v) => (isRecord(v) ? v.controls : undefined) });
    // Bare, as upstream answers it: a control's own `value` is one field among siblings.
    getter(':id/controls/:controlId', 'radar_get_control', 'getControl', {
      request: (p) => ({ radarId: p.id, controlId: p.controlId ?? '' }),
      empty: (p) => ({ status: 404, message: `Control ${p.controlId} not found` }),
    });
    getter(':id/targets', 'radar_get_targets', 'ARPA targets');
    getter(':id/arpa/settings', 'radar_get_arpa_settings', 'ARPA settings');

    /** A change to one radar: finds its provider, then `body` decides (and answers). */
    const change = (
      method: 'put' | 'post' | 'delete',
      path: string,
      notFound: (id: string) => Failure,
      body: (
        pluginId: string,
        req: { params: Req['Params']; body: unknown },
        reply: FastifyReply,
      ) => Promise<FastifyReply | object>,
    ): void => {
      app[method]<Req>(`${RADARS_PATH}/${path}`, write, async (req, reply) => {
        const o = await owner(req.params.id, notFound(req.params.id));
        if (!('pluginId' in o)) return send(reply, o);
        return body(o.pluginId, req, reply);
      });
    };
    const done = (reply: FastifyReply, r: { ok: true } | Failure, ok: object = OK): FastifyReply =>
      'ok' in r ? reply.code(200).send(ok) : send(reply, r);

    change(
      'put',
      ':id',
      () => NOT_FOUND,
      async (pluginId, req, reply) => {
        if (!providers.supports(pluginId, 'radar_set_controls')) return send(reply, unsupported('setControls'));
        const b = bodyOf(req.body);
        const controls = b.value ?? b;
        return done(
          reply,
          outcome(
            await call(pluginId, 'radar_set_controls', { radarId: req.params.id, controls }),
            'Failed to update radar controls',
          ),
        );
      },
    );

    for (const [name, s] of Object.entries(SHORTCUTS)) {
      // Through radar_set_control with the control id when the provider has it (as upstream's
      // applyControl), else the typed export.
      change(
        'put',
        `:id/${name}`,
        () => NOT_FOUND,
        async (pluginId, req, reply) => {
          const generic = providers.supports(pluginId, 'radar_set_control');
          if (!generic && !providers.supports(pluginId, s.legacy)) return send(reply, unsupported(s.method));
          const payload = s.payload(bodyOf(req.body));
          if ('invalid' in payload) return send(reply, { status: 400, message: payload.invalid });
          const radarId = req.params.id;
          const r = generic
            ? await call(pluginId, 'radar_set_control', { radarId, controlId: name, value: payload.value })
            : await call(pluginId, s.legacy, { radarId, [s.key]: payload.value });
          return done(reply, outcome(r, s.failed));
        },
      );
    }

    change('put', ':id/controls/:controlId', radarNotFound, async (pluginId, req, reply) => {
      if (!providers.supports(pluginId, 'radar_set_control')) return send(reply, unsupported('setControl'));
      const r = await call(pluginId, 'radar_set_control', {
        radarId: req.params.id,
        controlId: req.params.controlId ?? '',
        value: controlPayload(req.body),
      });
      return done(reply, outcome(r, 'Failed to set control'));
    });

    change('post', ':id/targets', radarNotFound, async (pluginId, req, reply) => {
      if (!providers.supports(pluginId, 'radar_acquire_target')) return send(reply, unsupported('target acquisition'));
      const { bearing, distance } = bodyOf(req.body);
      if (typeof bearing !== 'number' || typeof distance !== 'number')
        return send(reply, {
          status: 400,
          message: 'Invalid request. Must provide bearing (radians) and distance (meters)',
        });
      if (bearing < 0 || bearing >= TWO_PI)
        return send(reply, { status: 400, message: 'Bearing must be in radians [0, 2π)' });
      if (distance <= 0) return send(reply, { status: 400, message: 'Distance must be a positive number (meters)' });
      const r = outcome(
        await call(pluginId, 'radar_acquire_target', { radarId: req.params.id, bearing, distance }),
        'Failed to acquire target',
      );
      if (!('ok' in r)) return send(reply, r);
      return reply
        .code(201)
        .send({ state: 'COMPLETED', statusCode: 201, message: 'OK', targetId: r.value.targetId ?? null });
    });

    change('delete', ':id/targets/:targetId', radarNotFound, async (pluginId, req, reply) => {
      if (!providers.supports(pluginId, 'radar_cancel_target')) return send(reply, unsupported('target cancellation'));
      const targetId = Number.parseInt(req.params.targetId ?? '', 10);
      if (Number.isNaN(targetId)) return send(reply, { status: 400, message: 'Invalid target ID. Must be a number' });
      const r = outcome(
        await call(pluginId, 'radar_cancel_target', { radarId: req.params.id, targetId }),
        'Target not found or already cancelled',
      );
      // A provider that answers false: the target is not tracked (upstream's 404).
      return done(reply, 'ok' in r ? r : r.status === 400 ? { status: 404, message: r.message } : r);
    });

    change('put', ':id/arpa/settings', radarNotFound, async (pluginId, req, reply) => {
      if (!providers.supports(pluginId, 'radar_set_arpa_settings')) return send(reply, unsupported('ARPA settings'));
      const b = bodyOf(req.body);
      const settings = b.value !== undefined ? b.value : b;
      return done(
        reply,
        outcome(
          await call(pluginId, 'radar_set_arpa_settings', { radarId: req.params.id, settings }),
          'Failed to update ARPA settings',
        ),
      );
    });
  };
}
