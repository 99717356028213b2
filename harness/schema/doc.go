// Package schema checks that event schemas (JSON Schema documents) evolve
// compatibly, the way the Confluent Schema Registry checks JSON Schema
// subjects, so that a CI job can refuse a breaking change before a
// producer ships it. `edload schema check` is its command line.
//
// Load or Parse a schema (JSON or YAML; read through a size limit; every
// problem at file:line:column), then Compatible(older, newer, mode):
//
//   - Backward: consumers using the newer schema can read data written
//     with the older one — the older is the writer's schema, the newer
//     the reader's;
//   - Forward: consumers using the older schema can read data written
//     with the newer one — Backward with the roles swapped;
//   - Full: both.
//
// CheckDir checks a directory of versions (NAME.v1.json, NAME.v2.json, …),
// each against the one before or, transitively, against every earlier
// one. CheckUpcast checks an upcaster against the two schemas it converts
// between, on sample events.
//
// # Differences
//
// Each change is a Difference named as the registry names it
// (io.confluent.kafka.schemaregistry.json.diff.Difference.Type), with the
// JSON pointer of its place in the newer schema and a one-line reason.
// Whether a kind is compatible is the registry's answer (its
// SchemaDiff.COMPATIBLE_CHANGES), applied in the direction checked. The
// rules implemented:
//
//   - type, including type arrays and integer within number: widening is
//     TYPE_EXTENDED (integer to number) or SUM_TYPE_EXTENDED (a type
//     added), compatible; narrowing is TYPE_NARROWED or SUM_TYPE_NARROWED,
//     another type TYPE_CHANGED, both incompatible. A schema with an enum
//     or const produces only its values' types;
//   - enum and const, as sets of values: ENUM_ARRAY_EXTENDED (compatible),
//     ENUM_ARRAY_NARROWED, ENUM_ARRAY_CHANGED;
//   - strings: maxLength, minLength, pattern (MAX_LENGTH_DECREASED,
//     PATTERN_CHANGED, …);
//   - numbers: minimum, maximum, exclusiveMinimum, exclusiveMaximum
//     (numeric, draft 6 and later), multipleOf (MULTIPLE_OF_REDUCED is
//     compatible: the new divisor divides the old);
//   - objects: properties, compared recursively; a property added or
//     removed is judged by the content model of the schema that lacks it —
//     open (additionalProperties absent or true), closed (false) or
//     partially open (a patternProperties or additionalProperties schema,
//     which must accept the property's values):
//     OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL (and its REQUIRED_
//     forms; the registry's older versions call all three
//     PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL) is incompatible,
//     OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL compatible,
//     REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL incompatible unless
//     the property has a default, PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
//     compatible, PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL incompatible,
//     *_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL as their schemas compare;
//     required (REQUIRED_ATTRIBUTE_ADDED, and _WITH_DEFAULT_ADDED,
//     compatible); additionalProperties (ADDITIONAL_PROPERTIES_REMOVED,
//     _NARROWED, _ADDED, _EXTENDED, or its schemas compared);
//     patternProperties present on both sides, compared;
//     maxProperties, minProperties; dependentRequired, dependentSchemas
//     and draft-7 dependencies (DEPENDENCY_ARRAY_*, DEPENDENCY_SCHEMA_*);
//   - arrays: items (one schema for every item), compared recursively, or
//     added (SCHEMA_ADDED) or removed (SCHEMA_REMOVED); maxItems,
//     minItems, uniqueItems;
//   - $ref to a JSON pointer inside the document ($defs, definitions, or
//     "#"), followed on both sides: a change inside a definition is
//     reported where the definition is written, once. A recursive schema
//     is compared once around its cycle, as the registry does;
//   - oneOf, anyOf, allOf: as the registry's CombinedSchemaDiff — the
//     criterion (to anyOf is COMBINED_TYPE_EXTENDED; otherwise
//     COMBINED_TYPE_CHANGED unless from a single alternative), the sizes
//     (an alternative added to oneOf or anyOf is SUM_TYPE_EXTENDED and
//     compatible, one removed SUM_TYPE_NARROWED and not; allOf the other
//     way round: PRODUCT_TYPE_EXTENDED, PRODUCT_TYPE_NARROWED), then a
//     one-to-one pairing of each writer's alternative with a compatible
//     reader's alternative (COMBINED_TYPE_SUBSCHEMAS_CHANGED when there
//     is none). A schema that becomes a oneOf or anyOf with one
//     alternative accepting it is SUM_TYPE_EXTENDED; one that stops being
//     one must accept every former alternative;
//   - annotations: $id, title, description, default changes are reported
//     as compatible (ID_CHANGED, TITLE_CHANGED, …).
//
// # Not analysed
//
// These are reported as a Note, never silently as compatible (and
// `edload schema check --strict` fails on them): a change to (or a $ref
// inside) not, if/then/else, contains, minContains, maxContains,
// propertyNames, format, prefixItems, items as an array and
// additionalItems (tuples), unevaluatedItems, $dynamicRef, $recursiveRef,
// contentSchema and $schema (a change of draft); unevaluatedProperties
// present on either side (the content model is then judged without it); a
// patternProperties pattern added or removed; a oneOf, anyOf or allOf
// added or removed beside other keywords; an allOf that is the writer's
// whole schema when no part of it alone is accepted; keywords beside $ref
// (only the referenced schema is compared); a $ref that is not a pointer
// into the document (an $anchor, or a URL relative to an $id); an $id
// below the root (the $refs are still followed from the root, which it may
// contradict); a boolean exclusiveMaximum or exclusiveMinimum (draft 4)
// that changed; and the rest of a check that stops after comparing 50000
// pairs of subschemas. Keywords no validator reads (x-…) cannot break
// compatibility and are ignored.
//
// A schema is refused (ErrInvalid) above 10000 objects: the compiler's
// cost grows with their square.
//
// Like the registry, the check does not notice that data may match two
// alternatives of a oneOf once one is widened.
package schema
