package trinotest

import "fmt"

// queryError is Trino's QueryError JSON (io.trino.client.QueryError).
type queryError struct {
	Message       string         `json:"message"`
	ErrorCode     int            `json:"errorCode"`
	ErrorName     string         `json:"errorName"`
	ErrorType     string         `json:"errorType"`
	ErrorLocation *errorLocation `json:"errorLocation,omitempty"`
	FailureInfo   failureInfo    `json:"failureInfo"`
}

type errorLocation struct {
	LineNumber   int `json:"lineNumber"`
	ColumnNumber int `json:"columnNumber"`
}

// failureInfo is Trino's FailureInfo JSON (without a server stack trace).
type failureInfo struct {
	Type          string         `json:"type"`
	Message       string         `json:"message"`
	Suppressed    []failureInfo  `json:"suppressed"`
	Stack         []string       `json:"stack"`
	ErrorLocation *errorLocation `json:"errorLocation,omitempty"`
}

// errorCode is one of Trino's StandardErrorCode values.
type errorCode struct {
	code      int
	name, typ string
}

// Trino's StandardErrorCode values that trinotest produces.
var (
	errGenericUser    = errorCode{0, "GENERIC_USER_ERROR", "USER_ERROR"}
	errSyntax         = errorCode{1, "SYNTAX_ERROR", "USER_ERROR"}
	errUserCanceled   = errorCode{3, "USER_CANCELED", "USER_ERROR"}
	errPermission     = errorCode{4, "PERMISSION_DENIED", "USER_ERROR"}
	errFunctionNotFnd = errorCode{6, "FUNCTION_NOT_FOUND", "USER_ERROR"}
	errNotSupported   = errorCode{13, "NOT_SUPPORTED", "USER_ERROR"}
	errCatalogNotFnd  = errorCode{44, "CATALOG_NOT_FOUND", "USER_ERROR"}
	errSchemaNotFnd   = errorCode{45, "SCHEMA_NOT_FOUND", "USER_ERROR"}
	errTableNotFnd    = errorCode{46, "TABLE_NOT_FOUND", "USER_ERROR"}
	errColumnNotFnd   = errorCode{47, "COLUMN_NOT_FOUND", "USER_ERROR"}
	errMissingCatalog = errorCode{56, "MISSING_CATALOG_NAME", "USER_ERROR"}
	errMissingSchema  = errorCode{57, "MISSING_SCHEMA_NAME", "USER_ERROR"}
	errInternal       = errorCode{65536, "GENERIC_INTERNAL_ERROR", "INTERNAL_ERROR"}
	errStartingUp     = errorCode{65548, "SERVER_STARTING_UP", "INTERNAL_ERROR"}
)

// trinoError is a query failure on its way to the client.
type trinoError struct {
	code      errorCode
	message   string
	line, col int    // 1-based; 0 when the error has no location
	javaType  string // failureInfo.type
}

func (e *trinoError) Error() string { return e.message }

// newError returns a failure without a location.
func newError(code errorCode, javaType, format string, args ...any) *trinoError {
	return &trinoError{code: code, message: fmt.Sprintf(format, args...), javaType: javaType}
}

// newLocatedError returns a failure at line:col of the statement; Trino
// prefixes such messages with "line L:C: ".
func newLocatedError(code errorCode, line, col int, format string, args ...any) *trinoError {
	msg := fmt.Sprintf("line %d:%d: %s", line, col, fmt.Sprintf(format, args...))
	javaType := "io.trino.spi.TrinoException"
	if code == errSyntax {
		javaType = "io.trino.sql.parser.ParsingException"
	}
	return &trinoError{code: code, message: msg, line: line, col: col, javaType: javaType}
}

func (e *trinoError) toJSON() *queryError {
	var loc *errorLocation
	if e.line > 0 {
		loc = &errorLocation{LineNumber: e.line, ColumnNumber: e.col}
	}
	javaType := e.javaType
	if javaType == "" {
		javaType = "io.trino.spi.TrinoException"
	}
	return &queryError{
		Message:       e.message,
		ErrorCode:     e.code.code,
		ErrorName:     e.code.name,
		ErrorType:     e.code.typ,
		ErrorLocation: loc,
		FailureInfo: failureInfo{
			Type: javaType, Message: e.message,
			Suppressed: []failureInfo{}, Stack: []string{}, ErrorLocation: loc,
		},
	}
}

var (
	errNotFound         = errorCode{5, "NOT_FOUND", "USER_ERROR"}
	errInvalidParameter = errorCode{80, "INVALID_PARAMETER_USAGE", "USER_ERROR"}
)
