package build

import (
	"reflect"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
)

// schemas turns the wire types of api/client (and the few others the API
// answers) into component schemas, one per Go struct, so the document
// follows the types rather than a copy of them.
type schemas struct {
	components openapi3.Schemas
	gen        *openapi3gen.Generator
	// types maps each component's name to its Go type, for nullRefs.
	types map[string]reflect.Type
}

func newSchemas() *schemas {
	s := &schemas{components: openapi3.Schemas{}, types: map[string]reflect.Type{}}
	s.gen = openapi3gen.NewGenerator(
		openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{
			ExportComponentSchemas: true, ExportTopLevelSchema: true,
		}),
		openapi3gen.CreateTypeNameGenerator(s.typeName),
		openapi3gen.SchemaCustomizer(nullable),
	)
	return s
}

// typeName names a component after its Go type; types from outside
// api/client, api and this package (internal/enroll) take their package's name first, so that
// enroll.Request does not read as any request.
func (s *schemas) typeName(t reflect.Type) string {
	name := t.Name()
	if pkg := t.PkgPath(); name != "" && !strings.HasSuffix(pkg, "/api/client") && !strings.HasSuffix(pkg, "/api") && !strings.HasSuffix(pkg, "/build") {
		p := pkg[strings.LastIndex(pkg, "/")+1:]
		name = strings.ToUpper(p[:1]) + p[1:] + name
	}
	if name != "" {
		s.types[name] = t
	}
	return name
}

// nullable writes the null that encoding/json sends for a nil pointer, slice
// or map in a field without omitempty as an OpenAPI 3.1 type array
// (["array","null"]): openapi3gen speaks 3.0 (nullable: true), which a 3.1
// document must not use.
func nullable(name string, t reflect.Type, tag reflect.StructTag, schema *openapi3.Schema) error {
	if t.Kind() == reflect.Uint64 {
		schema.Max = nil // 2^64-1 reads as a float in JSON: no bound is clearer
	}
	isNull := schema.Nullable
	schema.Nullable = false
	if name == "_root" || t.Kind() == reflect.Struct && t != timeType {
		// A body is never null (lists answer [] when empty); a struct's
		// null is written at its $ref (finish), not in its component.
		return nil
	}
	omitted := strings.Contains(tag.Get("json"), ",omitempty")
	if (t.Kind() == reflect.Slice || t.Kind() == reflect.Map) && !omitted {
		isNull = true
	}
	if isNull && !omitted && schema.Type != nil && !schema.Type.Is("null") {
		schema.Type = &openapi3.Types{(*schema.Type)[0], openapi3.TypeNull}
	}
	return nil
}

var timeType = reflect.TypeOf(time.Time{})

// ref returns the schema of v's type, adding the components it needs.
func (s *schemas) ref(v any) *openapi3.SchemaRef {
	r, err := s.gen.NewSchemaRefForValue(v, s.components)
	if err != nil {
		panic(err) // the types are this module's own: a failure is a bug here
	}
	return r
}

// finish makes the struct-pointer fields that encoding/json may send as
// null say so, which openapi3gen loses behind a $ref: {"anyOf":[{"$ref"},
// {"type":"null"}]}. It runs once every component is known.
func (s *schemas) finish() {
	for name, t := range s.types {
		comp := s.components[name]
		if comp == nil || comp.Value == nil || t.Kind() != reflect.Struct {
			continue
		}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if f.Type.Kind() != reflect.Pointer || strings.Contains(tag, ",omitempty") || tag == "-" {
				continue
			}
			prop := comp.Value.Properties[strings.Split(tag, ",")[0]]
			if prop == nil || prop.Ref == "" {
				continue
			}
			null := &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeNull}}
			comp.Value.Properties[strings.Split(tag, ",")[0]] = openapi3.NewSchemaRef("", &openapi3.Schema{
				AnyOf: openapi3.SchemaRefs{openapi3.NewSchemaRef(prop.Ref, nil), openapi3.NewSchemaRef("", null)},
			})
		}
	}
}
