package schema

// Kind names a difference as the Confluent Schema Registry's JSON Schema
// checker does (io.confluent.kafka.schemaregistry.json.diff.Difference.Type),
// so a report maps onto the registry's own.
type Kind string

// The kinds this package reports. Whether one is compatible is the
// registry's answer for BACKWARD, where the writer's schema is the older:
// see Compatible for the other modes.
const (
	IDChanged          Kind = "ID_CHANGED"
	DescriptionChanged Kind = "DESCRIPTION_CHANGED"
	TitleChanged       Kind = "TITLE_CHANGED"
	DefaultChanged     Kind = "DEFAULT_CHANGED"
	SchemaAdded        Kind = "SCHEMA_ADDED"
	SchemaRemoved      Kind = "SCHEMA_REMOVED"
	TypeExtended       Kind = "TYPE_EXTENDED"
	TypeNarrowed       Kind = "TYPE_NARROWED"
	TypeChanged        Kind = "TYPE_CHANGED"

	MaxLengthAdded     Kind = "MAX_LENGTH_ADDED"
	MaxLengthRemoved   Kind = "MAX_LENGTH_REMOVED"
	MaxLengthIncreased Kind = "MAX_LENGTH_INCREASED"
	MaxLengthDecreased Kind = "MAX_LENGTH_DECREASED"
	MinLengthAdded     Kind = "MIN_LENGTH_ADDED"
	MinLengthRemoved   Kind = "MIN_LENGTH_REMOVED"
	MinLengthIncreased Kind = "MIN_LENGTH_INCREASED"
	MinLengthDecreased Kind = "MIN_LENGTH_DECREASED"
	PatternAdded       Kind = "PATTERN_ADDED"
	PatternRemoved     Kind = "PATTERN_REMOVED"
	PatternChanged     Kind = "PATTERN_CHANGED"

	MaximumAdded              Kind = "MAXIMUM_ADDED"
	MaximumRemoved            Kind = "MAXIMUM_REMOVED"
	MaximumIncreased          Kind = "MAXIMUM_INCREASED"
	MaximumDecreased          Kind = "MAXIMUM_DECREASED"
	MinimumAdded              Kind = "MINIMUM_ADDED"
	MinimumRemoved            Kind = "MINIMUM_REMOVED"
	MinimumIncreased          Kind = "MINIMUM_INCREASED"
	MinimumDecreased          Kind = "MINIMUM_DECREASED"
	ExclusiveMaximumAdded     Kind = "EXCLUSIVE_MAXIMUM_ADDED"
	ExclusiveMaximumRemoved   Kind = "EXCLUSIVE_MAXIMUM_REMOVED"
	ExclusiveMaximumIncreased Kind = "EXCLUSIVE_MAXIMUM_INCREASED"
	ExclusiveMaximumDecreased Kind = "EXCLUSIVE_MAXIMUM_DECREASED"
	ExclusiveMinimumAdded     Kind = "EXCLUSIVE_MINIMUM_ADDED"
	ExclusiveMinimumRemoved   Kind = "EXCLUSIVE_MINIMUM_REMOVED"
	ExclusiveMinimumIncreased Kind = "EXCLUSIVE_MINIMUM_INCREASED"
	ExclusiveMinimumDecreased Kind = "EXCLUSIVE_MINIMUM_DECREASED"
	MultipleOfAdded           Kind = "MULTIPLE_OF_ADDED"
	MultipleOfRemoved         Kind = "MULTIPLE_OF_REMOVED"
	MultipleOfExpanded        Kind = "MULTIPLE_OF_EXPANDED"
	MultipleOfReduced         Kind = "MULTIPLE_OF_REDUCED"
	MultipleOfChanged         Kind = "MULTIPLE_OF_CHANGED"

	RequiredAttributeAdded            Kind = "REQUIRED_ATTRIBUTE_ADDED"
	RequiredAttributeWithDefaultAdded Kind = "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
	RequiredAttributeRemoved          Kind = "REQUIRED_ATTRIBUTE_REMOVED"
	MaxPropertiesAdded                Kind = "MAX_PROPERTIES_ADDED"
	MaxPropertiesRemoved              Kind = "MAX_PROPERTIES_REMOVED"
	MaxPropertiesIncreased            Kind = "MAX_PROPERTIES_INCREASED"
	MaxPropertiesDecreased            Kind = "MAX_PROPERTIES_DECREASED"
	MinPropertiesAdded                Kind = "MIN_PROPERTIES_ADDED"
	MinPropertiesRemoved              Kind = "MIN_PROPERTIES_REMOVED"
	MinPropertiesIncreased            Kind = "MIN_PROPERTIES_INCREASED"
	MinPropertiesDecreased            Kind = "MIN_PROPERTIES_DECREASED"
	AdditionalPropertiesAdded         Kind = "ADDITIONAL_PROPERTIES_ADDED"
	AdditionalPropertiesRemoved       Kind = "ADDITIONAL_PROPERTIES_REMOVED"
	AdditionalPropertiesExtended      Kind = "ADDITIONAL_PROPERTIES_EXTENDED"
	AdditionalPropertiesNarrowed      Kind = "ADDITIONAL_PROPERTIES_NARROWED"
	DependencyArrayAdded              Kind = "DEPENDENCY_ARRAY_ADDED"
	DependencyArrayRemoved            Kind = "DEPENDENCY_ARRAY_REMOVED"
	DependencyArrayExtended           Kind = "DEPENDENCY_ARRAY_EXTENDED"
	DependencyArrayNarrowed           Kind = "DEPENDENCY_ARRAY_NARROWED"
	DependencyArrayChanged            Kind = "DEPENDENCY_ARRAY_CHANGED"
	DependencySchemaAdded             Kind = "DEPENDENCY_SCHEMA_ADDED"
	DependencySchemaRemoved           Kind = "DEPENDENCY_SCHEMA_REMOVED"

	// The registry's older versions report the three *_ADDED_TO_OPEN_CONTENT_MODEL
	// kinds below as one, PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL.
	RequiredPropertyAddedToOpenContentModel            Kind = "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
	RequiredPropertyWithDefaultAddedToOpenContentModel Kind = "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL"
	OptionalPropertyAddedToOpenContentModel            Kind = "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
	PropertyWithEmptySchemaAddedToOpenContentModel     Kind = "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
	RequiredPropertyAddedToUnopenContentModel          Kind = "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
	RequiredPropertyWithDefaultAddedToUnopenContent    Kind = "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
	OptionalPropertyAddedToUnopenContentModel          Kind = "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
	PropertyRemovedFromOpenContentModel                Kind = "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL"
	PropertyWithFalseRemovedFromClosedContentModel     Kind = "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	PropertyRemovedFromClosedContentModel              Kind = "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	PropertyRemovedIsCoveredByPartiallyOpen            Kind = "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	PropertyRemovedNotCoveredByPartiallyOpen           Kind = "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	PropertyAddedIsCoveredByPartiallyOpen              Kind = "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	PropertyAddedNotCoveredByPartiallyOpen             Kind = "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"

	MaxItemsAdded      Kind = "MAX_ITEMS_ADDED"
	MaxItemsRemoved    Kind = "MAX_ITEMS_REMOVED"
	MaxItemsIncreased  Kind = "MAX_ITEMS_INCREASED"
	MaxItemsDecreased  Kind = "MAX_ITEMS_DECREASED"
	MinItemsAdded      Kind = "MIN_ITEMS_ADDED"
	MinItemsRemoved    Kind = "MIN_ITEMS_REMOVED"
	MinItemsIncreased  Kind = "MIN_ITEMS_INCREASED"
	MinItemsDecreased  Kind = "MIN_ITEMS_DECREASED"
	UniqueItemsAdded   Kind = "UNIQUE_ITEMS_ADDED"
	UniqueItemsRemoved Kind = "UNIQUE_ITEMS_REMOVED"

	EnumArrayExtended Kind = "ENUM_ARRAY_EXTENDED"
	EnumArrayNarrowed Kind = "ENUM_ARRAY_NARROWED"
	EnumArrayChanged  Kind = "ENUM_ARRAY_CHANGED"

	CombinedTypeExtended          Kind = "COMBINED_TYPE_EXTENDED"
	CombinedTypeChanged           Kind = "COMBINED_TYPE_CHANGED"
	ProductTypeExtended           Kind = "PRODUCT_TYPE_EXTENDED"
	ProductTypeNarrowed           Kind = "PRODUCT_TYPE_NARROWED"
	SumTypeExtended               Kind = "SUM_TYPE_EXTENDED"
	SumTypeNarrowed               Kind = "SUM_TYPE_NARROWED"
	CombinedTypeSubschemasChanged Kind = "COMBINED_TYPE_SUBSCHEMAS_CHANGED"
)

// backwardCompatible is the registry's COMPATIBLE_CHANGES (SchemaDiff),
// restricted to the kinds reported here: a difference of any other kind
// breaks BACKWARD compatibility.
var backwardCompatible = map[Kind]bool{
	IDChanged: true, DescriptionChanged: true, TitleChanged: true, DefaultChanged: true,
	SchemaRemoved: true, TypeExtended: true,

	MaxLengthIncreased: true, MaxLengthRemoved: true, MinLengthDecreased: true, MinLengthRemoved: true,
	PatternRemoved: true,

	MaximumIncreased: true, MaximumRemoved: true, MinimumDecreased: true, MinimumRemoved: true,
	ExclusiveMaximumIncreased: true, ExclusiveMaximumRemoved: true,
	ExclusiveMinimumDecreased: true, ExclusiveMinimumRemoved: true,
	MultipleOfReduced: true, MultipleOfRemoved: true,

	RequiredAttributeWithDefaultAdded: true, RequiredAttributeRemoved: true,
	DependencyArrayNarrowed: true, DependencyArrayRemoved: true, DependencySchemaRemoved: true,
	MaxPropertiesIncreased: true, MaxPropertiesRemoved: true, MinPropertiesDecreased: true, MinPropertiesRemoved: true,
	AdditionalPropertiesAdded: true, AdditionalPropertiesExtended: true,
	PropertyWithEmptySchemaAddedToOpenContentModel:  true,
	RequiredPropertyWithDefaultAddedToUnopenContent: true, OptionalPropertyAddedToUnopenContentModel: true,
	PropertyWithFalseRemovedFromClosedContentModel: true, PropertyRemovedFromOpenContentModel: true,
	PropertyAddedIsCoveredByPartiallyOpen: true, PropertyRemovedIsCoveredByPartiallyOpen: true,

	MaxItemsIncreased: true, MaxItemsRemoved: true, MinItemsDecreased: true, MinItemsRemoved: true,
	UniqueItemsRemoved: true,

	EnumArrayExtended: true,

	CombinedTypeExtended: true, ProductTypeNarrowed: true, SumTypeExtended: true,
}

// compatibleKind reports whether the registry accepts a difference of kind
// k in a BACKWARD check.
func compatibleKind(k Kind) bool { return backwardCompatible[k] }
