package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"
)

// This file serves the Open Inference Protocol, version 2, the REST API of
// KServe, Triton and MLServer:
// https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
// The model takes one input tensor of shape [rows, features] and has the
// outputs "predict" and, for classifiers, "predict_proba", named as
// MLServer's scikit-learn runtime names them.

const (
	outputPredict = "predict"
	outputProba   = "predict_proba"
	inputName     = "input-0"
)

type v2Tensor struct {
	Name     string          `json:"name"`
	Datatype string          `json:"datatype"`
	Shape    []int64         `json:"shape"`
	Data     json.RawMessage `json:"data,omitempty"`
}

type v2Request struct {
	ID         string          `json:"id,omitempty"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	Inputs     []v2Tensor      `json:"inputs"`
	Outputs    []struct {
		Name string `json:"name"`
	} `json:"outputs,omitempty"`
}

type v2Response struct {
	ModelName string     `json:"model_name"`
	ID        string     `json:"id,omitempty"`
	Outputs   []v2Tensor `json:"outputs"`
}

// handleV2Server is GET /v2: server metadata.
func (s *Server) handleV2Server(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, http.StatusOK, map[string]any{
		"name":       "strata",
		"version":    s.o.version,
		"extensions": []string{},
	})
}

// v2Model checks the model name in the path: it answers 404 for a model
// this server does not serve, 503 while none is loaded.
func (s *Server) v2Model(ctx *fasthttp.RequestCtx) *state {
	if name := modelName(ctx); name != s.o.name {
		writeError(ctx, http.StatusNotFound, fmt.Errorf("unknown model %q: this server serves %q", name, s.o.name))
		return nil
	}
	return s.loaded(ctx)
}

// labelDatatype is the tensor datatype of the model's predictions.
func labelDatatype(st *state) string {
	if st.clf == nil || len(st.classes) == 0 {
		return "FP64"
	}
	switch st.classes[0].(type) {
	case int64, int, int32, uint64:
		return "INT64"
	case string:
		return "BYTES"
	case bool:
		return "BOOL"
	default:
		return "FP64"
	}
}

// handleV2Model is GET /v2/models/NAME: model metadata.
func (s *Server) handleV2Model(ctx *fasthttp.RequestCtx) {
	st := s.v2Model(ctx)
	if st == nil {
		return
	}
	type tensorMeta struct {
		Name     string  `json:"name"`
		Datatype string  `json:"datatype"`
		Shape    []int64 `json:"shape"`
	}
	outputs := []tensorMeta{{Name: outputPredict, Datatype: labelDatatype(st), Shape: []int64{-1}}}
	if st.clf != nil {
		outputs = append(outputs, tensorMeta{Name: outputProba, Datatype: "FP64", Shape: []int64{-1, int64(len(st.classes))}})
	}
	params := map[string]any{
		"estimator":       st.info.Estimator,
		"class":           st.info.Class,
		"sklearn_version": st.info.SklearnVersion,
		"allows_nan":      st.info.AllowsNaN,
	}
	if st.clf != nil {
		params["classes"] = st.classes
	}
	writeJSON(ctx, http.StatusOK, map[string]any{
		"name":       s.o.name,
		"versions":   []string{},
		"platform":   "sklearn",
		"inputs":     []tensorMeta{{Name: inputName, Datatype: "FP64", Shape: []int64{-1, int64(st.nf)}}},
		"outputs":    outputs,
		"parameters": params,
	})
}

// handleV2ModelReady is GET /v2/models/NAME/ready.
func (s *Server) handleV2ModelReady(ctx *fasthttp.RequestCtx) {
	if name := modelName(ctx); name != s.o.name {
		writeError(ctx, http.StatusNotFound, fmt.Errorf("unknown model %q: this server serves %q", name, s.o.name))
		return
	}
	if err := s.Ready(); err != nil {
		writeJSON(ctx, http.StatusServiceUnavailable, map[string]any{"name": s.o.name, "ready": false, "error": err.Error()})
		return
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"name": s.o.name, "ready": true})
}

// tensorTypes are the input datatypes accepted, and whether each holds
// integers only.
var tensorTypes = map[string]bool{
	"FP16": false, "FP32": false, "FP64": false,
	"INT8": true, "INT16": true, "INT32": true, "INT64": true,
	"UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true,
	"BOOL": true,
}

// handleV2Infer is POST /v2/models/NAME/infer.
func (s *Server) handleV2Infer(ctx *fasthttp.RequestCtx) {
	st := s.v2Model(ctx)
	if st == nil {
		return
	}
	body, err := s.body(ctx)
	if err != nil {
		fail(ctx, err)
		return
	}
	resp, err := s.infer(st, body)
	if err != nil {
		fail(ctx, err)
		return
	}
	writeJSON(ctx, http.StatusOK, resp)
}

// infer runs an inference request.
func (s *Server) infer(st *state, body []byte) (*v2Response, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badInput(`empty body: send {"inputs": [{"name": %q, "shape": [1, %d], "datatype": "FP64", "data": [...]}]}`, inputName, st.nf)
	}
	var req v2Request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badInput("invalid inference request: %v", err)
	}
	if len(req.Inputs) != 1 {
		return nil, badInput(`the request has %d inputs: this model takes one, of shape [rows, %d]`, len(req.Inputs), st.nf)
	}
	want := map[string]bool{}
	for _, o := range req.Outputs {
		switch {
		case o.Name == outputPredict, o.Name == outputProba && st.clf != nil:
			want[o.Name] = true
		case o.Name == outputProba:
			return nil, badInput("output %q: %s is not a classifier: it has no class probabilities", o.Name, st.info.Estimator)
		default:
			return nil, badInput("unknown output %q: the outputs are %s", o.Name, outputNames(st))
		}
	}
	if len(want) == 0 {
		want[outputPredict] = true
	}
	rows, err := tensorRows(st, req.Inputs[0])
	if err != nil {
		return nil, err
	}
	resp := &v2Response{ModelName: s.o.name, ID: req.ID}
	n := int64(len(rows))
	if want[outputPredict] {
		pred, err := safePredict(st.model, rows)
		if err != nil {
			return nil, fmt.Errorf("predicting %d rows: %w", n, err)
		}
		resp.Outputs = append(resp.Outputs, v2Tensor{Name: outputPredict, Datatype: labelDatatype(st), Shape: []int64{n}, Data: appendLabels(nil, pred)})
	}
	if want[outputProba] {
		proba, err := safeProba(st.clf, rows)
		if err != nil {
			return nil, fmt.Errorf("predicting probabilities of %d rows: %w", n, err)
		}
		data := []byte{'['}
		for i, p := range proba {
			if len(p) != len(st.classes) {
				return nil, fmt.Errorf("predict_proba gave %d probabilities for %d classes", len(p), len(st.classes))
			}
			for j, v := range p {
				if i+j > 0 {
					data = append(data, ',')
				}
				data = AppendFloat(data, v)
			}
		}
		data = append(data, ']')
		resp.Outputs = append(resp.Outputs, v2Tensor{Name: outputProba, Datatype: "FP64", Shape: []int64{n, int64(len(st.classes))}, Data: data})
	}
	s.metrics.rows.WithLabelValues("/v2/models/{name}/infer").Add(float64(n))
	return resp, nil
}

// tensorRows checks an input tensor and returns its rows.
func tensorRows(st *state, in v2Tensor) ([][]float64, error) {
	dt := strings.ToUpper(in.Datatype)
	ints, ok := tensorTypes[dt]
	if !ok {
		return nil, badInput("input %q has datatype %q: use FP64, FP32, FP16, INT8 to INT64, UINT8 to UINT64 or BOOL", in.Name, in.Datatype)
	}
	var nrows int64
	switch {
	case len(in.Shape) == 2:
		nrows = in.Shape[0]
		if in.Shape[1] != int64(st.nf) {
			return nil, badInput("input %q has shape %v: the model expects %d features, shape [rows, %d]", in.Name, in.Shape, st.nf, st.nf)
		}
	case len(in.Shape) == 1 && in.Shape[0] == int64(st.nf):
		nrows = 1
	default:
		return nil, badInput("input %q has shape %v: the model expects shape [rows, %d]", in.Name, in.Shape, st.nf)
	}
	if nrows <= 0 {
		return nil, badInput("input %q has shape %v: send at least one row", in.Name, in.Shape)
	}
	if len(in.Data) == 0 {
		return nil, badInput("input %q has no data", in.Name)
	}
	flat, err := decodeTensor(in.Data, dt == "BOOL", st.info.AllowsNaN && !ints, nil)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", in.Name, err)
	}
	if len(flat)%st.nf != 0 || int64(len(flat)/st.nf) != nrows {
		return nil, badInput("input %q has shape %v but %d values, not %d rows of %d", in.Name, in.Shape, len(flat), nrows, st.nf)
	}
	if ints {
		for i, v := range flat {
			if v != math.Trunc(v) {
				return nil, badInput("input %q has datatype %s but value %d is %v, not an integer", in.Name, dt, i, v)
			}
		}
	}
	rows := make([][]float64, nrows)
	for i := range rows {
		rows[i] = flat[i*st.nf : (i+1)*st.nf : (i+1)*st.nf]
	}
	return rows, nil
}

// outputNames lists the model's outputs for error messages.
func outputNames(st *state) string {
	if st.clf != nil {
		return fmt.Sprintf("%q and %q", outputPredict, outputProba)
	}
	return fmt.Sprintf("%q", outputPredict)
}
