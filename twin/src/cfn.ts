// A small evaluator for the CloudFormation intrinsics that the packaged templates use, so the
// twin can read definitions, environment variables and policies exactly as deployed, with the
// twin's ARNs in place of `Ref` / `Fn::GetAtt` / `Fn::Sub` placeholders.
import type { CfnTemplate } from './package';

export interface Pseudo {
  accountId: string;
  region: string;
  stackName: string;
  partition?: string;
}

/** What a provisioned resource answers to `Ref` and `Fn::GetAtt`. */
export interface Physical {
  ref: string;
  attrs: Record<string, string>;
}

export const NO_VALUE = Symbol('AWS::NoValue');

export class CfnContext {
  readonly physical = new Map<string, Physical>();
  private readonly conditions = new Map<string, boolean>();

  constructor(
    readonly template: CfnTemplate,
    readonly pseudo: Pseudo,
    /** Values for the template's Parameters (their Default otherwise), as `sls deploy` leaves them. */
    readonly parameters: Record<string, string> = {},
  ) {}

  condition(name: string): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    const def = (this.template.Conditions as Record<string, unknown> | undefined)?.[name];
    if (def === undefined) throw new Error(`template has no condition '${name}'`);
    const value = Boolean(this.evaluate(def));
    this.conditions.set(name, value);
    return value;
  }

  ref(name: string): string {
    switch (name) {
      case 'AWS::AccountId':
        return this.pseudo.accountId;
      case 'AWS::Region':
        return this.pseudo.region;
      case 'AWS::Partition':
        return this.pseudo.partition ?? 'aws';
      case 'AWS::StackName':
        return this.pseudo.stackName;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackId':
        return `arn:aws:cloudformation:${this.pseudo.region}:${this.pseudo.accountId}:stack/${this.pseudo.stackName}/twin`;
    }
    const parameter = (this.template.Parameters as Record<string, { Default?: unknown }> | undefined)?.[name];
    if (parameter) {
      const value = this.parameters[name] ?? parameter.Default;
      if (value === undefined) throw new Error(`template parameter ${name} has no value and no Default`);
      return Array.isArray(value) ? value.join(',') : String(value);
    }
    const p = this.physical.get(name);
    if (!p) throw new UnresolvedError(name);
    return p.ref;
  }

  getAtt(name: string, attr: string): string {
    const p = this.physical.get(name);
    if (!p) throw new UnresolvedError(name);
    const v = p.attrs[attr];
    if (v === undefined) throw new Error(`the twin does not know attribute ${attr} of ${name}`);
    return v;
  }

  sub(text: string, vars: Record<string, unknown> = {}): string {
    return text.replace(/\$\{([^}!][^}]*)\}/g, (_, expr: string) => {
      if (expr in vars) return String(this.evaluate(vars[expr]));
      const dot = expr.indexOf('.');
      if (dot > 0 && !expr.startsWith('AWS::')) return this.getAtt(expr.slice(0, dot), expr.slice(dot + 1));
      return this.ref(expr);
    });
  }

  /** Evaluates a template value; `Fn::If` branches with AWS::NoValue yield NO_VALUE. */
  evaluate(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.evaluate(v)).filter((v) => v !== NO_VALUE);
    if (value === null || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const arg = obj[k];
      switch (k) {
        case 'Ref':
          return arg === 'AWS::NoValue' ? NO_VALUE : this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [res, ...attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
          return this.getAtt(res!, attr.join('.'));
        }
        case 'Fn::Sub':
          return Array.isArray(arg)
            ? this.sub(String(arg[0]), arg[1] as Record<string, unknown>)
            : this.sub(String(arg));
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, unknown[]];
          return (this.evaluate(parts) as unknown[]).join(sep);
        }
        case 'Fn::Split': {
          const [sep, s] = arg as [string, unknown];
          return String(this.evaluate(s)).split(sep);
        }
        case 'Fn::Select': {
          const [i, list] = arg as [unknown, unknown];
          return (this.evaluate(list) as unknown[])[Number(this.evaluate(i))];
        }
        case 'Fn::If': {
          const [cond, a, b] = arg as [string, unknown, unknown];
          return this.evaluate(this.condition(cond) ? a : b);
        }
        case 'Fn::Equals': {
          const [a, b] = arg as [unknown, unknown];
          return JSON.stringify(this.evaluate(a)) === JSON.stringify(this.evaluate(b));
        }
        case 'Fn::Not':
          return !this.evaluate((arg as unknown[])[0]);
        case 'Fn::And':
          return (arg as unknown[]).every((c) => this.evaluate(c));
        case 'Fn::Or':
          return (arg as unknown[]).some((c) => this.evaluate(c));
        case 'Condition':
          return this.condition(String(arg));
        case 'Fn::GetAZs':
          return ['a', 'b', 'c'].map((z) => `${this.pseudo.region}${z}`);
        case 'Fn::ImportValue':
          throw new Error(`the twin does not resolve Fn::ImportValue (${JSON.stringify(arg)})`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const v = this.evaluate(obj[k]);
      if (v !== NO_VALUE) out[k] = v;
    }
    return out;
  }

  /** Logical ids a value refers to (for ordering the provisioning). */
  static dependencies(value: unknown, acc = new Set<string>()): Set<string> {
    if (Array.isArray(value)) {
      for (const v of value) CfnContext.dependencies(v, acc);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (k === 'Ref' && typeof v === 'string' && !v.startsWith('AWS::')) acc.add(v);
        // (Template parameters are filtered out by the caller: they are not resources.)
        else if (k === 'Fn::GetAtt') acc.add(Array.isArray(v) ? String(v[0]) : String(v).split('.')[0]!);
        else if (k === 'Fn::Sub') {
          const [text, vars] = Array.isArray(v) ? [String(v[0]), v[1]] : [String(v), {}];
          for (const m of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
            const name = m[1]!.split('.')[0]!;
            if (!name.startsWith('AWS::') && !(vars && name in (vars as object))) acc.add(name);
          }
          CfnContext.dependencies(vars, acc);
        } else CfnContext.dependencies(v, acc);
      }
    }
    return acc;
  }
}

export class UnresolvedError extends Error {
  constructor(readonly logicalId: string) {
    super(`unresolved reference to ${logicalId}`);
  }
}
