package serve

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/valyala/fasthttp"
)

// This file serves GET /openapi.json, an OpenAPI 3 description of the
// server's endpoints, filled in with the model being served.

// openAPISpec is the static part of the document.
const openAPISpec = `{
  "openapi": "3.0.3",
  "info": {"title": "strata model server", "version": "1"},
  "paths": {
    "/predict": {"post": {
      "summary": "Predict one row or a batch of rows (the Flask tutorial's API)",
      "operationId": "predict",
      "requestBody": {"required": true, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Features"},
        "examples": {
          "row": {"value": {"features": [5.1, 3.5, 1.4, 0.2]}},
          "batch": {"value": {"features": [[5.1, 3.5, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3]]}}}}}},
      "responses": {
        "200": {"description": "One prediction per row", "content": {"application/json": {"schema": {
          "type": "object", "required": ["prediction"],
          "properties": {"prediction": {"type": "array", "items": {"$ref": "#/components/schemas/Label"}}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "405": {"$ref": "#/components/responses/MethodNotAllowed"},
        "413": {"$ref": "#/components/responses/TooLarge"},
        "503": {"$ref": "#/components/responses/NotReady"}}}},
    "/predict_proba": {"post": {
      "summary": "Class probabilities of one row or a batch of rows (classifiers only)",
      "operationId": "predictProba",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Features"}}}},
      "responses": {
        "200": {"description": "One probability row per row, in the order of classes", "content": {"application/json": {"schema": {
          "type": "object", "required": ["probabilities", "classes"],
          "properties": {
            "probabilities": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "classes": {"type": "array", "items": {"$ref": "#/components/schemas/Label"}}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "405": {"$ref": "#/components/responses/MethodNotAllowed"},
        "413": {"$ref": "#/components/responses/TooLarge"},
        "503": {"$ref": "#/components/responses/NotReady"}}}},
    "/healthz": {"get": {"summary": "Liveness: the process is up", "operationId": "healthz",
      "responses": {"200": {"description": "Alive"}}}},
    "/readyz": {"get": {"summary": "Readiness: the model is loaded and passed a self-check prediction", "operationId": "readyz",
      "responses": {"200": {"description": "Ready"}, "503": {"$ref": "#/components/responses/NotReady"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "operationId": "metrics",
      "responses": {"200": {"description": "Metrics in the Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
      "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/v2": {"get": {"summary": "Open Inference Protocol: server metadata", "operationId": "v2ServerMetadata",
      "responses": {"200": {"description": "Server metadata", "content": {"application/json": {"schema": {"type": "object",
        "properties": {"name": {"type": "string"}, "version": {"type": "string"}, "extensions": {"type": "array", "items": {"type": "string"}}}}}}}}}},
    "/v2/health/live": {"get": {"summary": "Open Inference Protocol: liveness", "operationId": "v2Live",
      "responses": {"200": {"description": "Alive"}}}},
    "/v2/health/ready": {"get": {"summary": "Open Inference Protocol: readiness", "operationId": "v2Ready",
      "responses": {"200": {"description": "Ready"}, "503": {"$ref": "#/components/responses/NotReady"}}}},
    "/v2/models/{name}": {"get": {"summary": "Open Inference Protocol: model metadata", "operationId": "v2ModelMetadata",
      "parameters": [{"$ref": "#/components/parameters/ModelName"}],
      "responses": {"200": {"description": "Model metadata", "content": {"application/json": {"schema": {"type": "object",
        "properties": {"name": {"type": "string"}, "platform": {"type": "string"},
          "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/TensorMetadata"}},
          "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/TensorMetadata"}}}}}}},
        "404": {"$ref": "#/components/responses/NotFound"}}}},
    "/v2/models/{name}/ready": {"get": {"summary": "Open Inference Protocol: model readiness", "operationId": "v2ModelReady",
      "parameters": [{"$ref": "#/components/parameters/ModelName"}],
      "responses": {"200": {"description": "Ready"}, "404": {"$ref": "#/components/responses/NotFound"}, "503": {"$ref": "#/components/responses/NotReady"}}}},
    "/v2/models/{name}/infer": {"post": {"summary": "Open Inference Protocol: inference", "operationId": "v2Infer",
      "parameters": [{"$ref": "#/components/parameters/ModelName"}],
      "requestBody": {"required": true, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/InferenceRequest"},
        "example": {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}],
          "outputs": [{"name": "predict"}, {"name": "predict_proba"}]}}}},
      "responses": {
        "200": {"description": "Outputs predict and, when asked for, predict_proba", "content": {"application/json": {"schema": {
          "type": "object", "properties": {"model_name": {"type": "string"}, "id": {"type": "string"},
            "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}}}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "404": {"$ref": "#/components/responses/NotFound"},
        "413": {"$ref": "#/components/responses/TooLarge"}}}}
  },
  "components": {
    "parameters": {"ModelName": {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}},
    "schemas": {
      "Features": {"type": "object", "required": ["features"], "properties": {"features": {"oneOf": [
        {"type": "array", "items": {"type": "number", "nullable": true}, "description": "One row"},
        {"type": "array", "items": {"type": "array", "items": {"type": "number", "nullable": true}}, "description": "A batch of rows"}]}},
        "description": "null is a missing value (NaN), accepted only by models that allow NaN"},
      "Label": {"oneOf": [{"type": "integer"}, {"type": "number"}, {"type": "string"}, {"type": "boolean"}]},
      "TensorMetadata": {"type": "object", "properties": {"name": {"type": "string"}, "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}}}},
      "Tensor": {"type": "object", "required": ["name", "shape", "datatype", "data"], "properties": {
        "name": {"type": "string"}, "datatype": {"type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64",
          "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"]},
        "shape": {"type": "array", "items": {"type": "integer"}}, "data": {"type": "array", "items": {}}}},
      "InferenceRequest": {"type": "object", "required": ["inputs"], "properties": {
        "id": {"type": "string"},
        "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
        "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string", "enum": ["predict", "predict_proba"]}}}}}},
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    },
    "responses": {
      "BadRequest": {"description": "The request was wrong; error says how", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotFound": {"description": "No such model or endpoint", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "MethodNotAllowed": {"description": "Wrong HTTP method", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TooLarge": {"description": "The body is over the server's limit", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotReady": {"description": "No model loaded yet, or shutting down", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  }
}`

// handleOpenAPI is GET /openapi.json.
func (s *Server) handleOpenAPI(ctx *fasthttp.RequestCtx) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(openAPISpec), &doc); err != nil {
		writeError(ctx, http.StatusInternalServerError, fmt.Errorf("the built-in OpenAPI document is invalid: %w", err))
		return
	}
	info := doc["info"].(map[string]any)
	info["version"] = s.o.version
	desc := fmt.Sprintf("Serves the model %q.", s.o.name)
	if st := s.state.Load(); st.model != nil {
		desc = fmt.Sprintf("Serves the model %q: %s, %d features.", s.o.name, st.info.Estimator, st.nf)
	}
	info["description"] = desc
	writeJSON(ctx, http.StatusOK, doc)
}
