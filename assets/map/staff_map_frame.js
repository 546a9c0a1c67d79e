/*
 * 乔网智治 — the staff map's frame (layouts/staff_map_frame.py builds the document).
 *
 * StaffMapFrame.start(config, map, control, layers) is called by the document once folium has
 * made the map and its vector layers. It then
 *  - opens at the view of the link (or fits the villages, or the chosen village);
 *  - fetches the incidents once as compact columns (config.pointsUrl) and draws them as
 *    status-coloured clusters (Leaflet.markercluster, chunked so 50,000 points never freeze
 *    the page) and as a heat layer (Leaflet.heat), both in the layer control;
 *  - tells the page around it (postMessage, same origin only) what the user did: a village,
 *    grid or incident clicked, layers toggled, the view moved. The page keeps that in its URL
 *    so a view can be shared, and shows the figures in its side panel.
 * Text from the store is set with textContent, never parsed as HTML.
 */
(function () {
    "use strict";

    var STATUS_COLOURS = {open: "#f0a020", overdue: "#d62728", closed: "#2ca02c"};

    function post(message) {
        message.source = "staff-map";
        if (window.parent && window.parent !== window) {
            window.parent.postMessage(message, window.location.origin);
        }
    }

    function debounce(fn, ms) {
        var timer = null;
        return function () {
            var args = arguments;
            clearTimeout(timer);
            timer = setTimeout(function () { fn.apply(null, args); }, ms);
        };
    }

    function statusBox(map) {
        var Box = L.Control.extend({
            options: {position: "bottomleft"},
            onAdd: function () {
                var div = L.DomUtil.create("div", "sm-status");
                div.id = "sm-status";
                return div;
            }
        });
        var box = new Box();
        box.addTo(map);
        return box.getContainer();
    }

    /* The keys of the choropleths shown, one block each, redrawn when layers come or go. */
    function legendBox(map, layers, legends) {
        var Box = L.Control.extend({
            options: {position: "bottomright"},
            onAdd: function () { return L.DomUtil.create("div", "sm-legend"); }
        });
        var box = new Box();
        box.addTo(map);
        var div = box.getContainer();
        function draw() {
            div.textContent = "";
            Object.keys(legends).forEach(function (id) {
                if (!layers[id] || !map.hasLayer(layers[id])) { return; }
                var block = document.createElement("div");
                block.className = "sm-legend-block";
                var title = document.createElement("b");
                title.textContent = legends[id].title;
                block.appendChild(title);
                legends[id].stops.forEach(function (stop) {
                    var row = document.createElement("div");
                    var swatch = document.createElement("i");
                    swatch.style.background = stop[0];
                    row.appendChild(swatch);
                    row.appendChild(document.createTextNode(stop[1]));
                    block.appendChild(row);
                });
                div.appendChild(block);
            });
            div.style.display = div.childNodes.length ? "" : "none";
        }
        map.on("overlayadd overlayremove layeradd layerremove", draw);
        draw();
    }

    function clusterIcon(cluster) {
        var children = cluster.getAllChildMarkers();
        var worst = "closed";
        for (var i = 0; i < children.length; i++) {
            var s = children[i].options.status;
            if (s === "overdue") { worst = "overdue"; break; }
            if (s === "open") { worst = "open"; }
        }
        var n = cluster.getChildCount();
        var size = n < 100 ? 34 : (n < 1000 ? 42 : 50);
        return L.divIcon({
            html: "<div><span>" + n + "</span></div>",
            className: "marker-cluster sm-cluster sm-cluster-" + worst,
            iconSize: L.point(size, size)
        });
    }

    function popupContent(item, strings) {
        var root = document.createElement("div");
        root.className = "sm-popup";
        var title = document.createElement("b");
        title.textContent = item.title || item.id;
        root.appendChild(title);
        (item.rows || []).forEach(function (row) {
            var line = document.createElement("div");
            var label = document.createElement("span");
            label.className = "sm-popup-label";
            label.textContent = row[0] + (strings.colon || ": ");
            var value = document.createElement("span");
            value.textContent = row[1];
            line.appendChild(label);
            line.appendChild(value);
            root.appendChild(line);
        });
        if (item.href) {
            var link = document.createElement("a");
            link.href = item.href;
            link.target = "_top";
            link.textContent = strings.open_item || item.href;
            root.appendChild(link);
        }
        return root;
    }

    function start(config, map, control, layers) {
        var strings = config.strings || {};
        var status = statusBox(map);
        var state = {map: map, layers: layers, points: 0, ready: false};
        window.staffMap = state;

        // without a base map the map has no zoom limits of its own (clusters need one)
        if (!isFinite(map.getMaxZoom())) { map.setMaxZoom(config.maxZoom || 19); }
        if (!isFinite(map.getMinZoom())) { map.setMinZoom(config.minZoom || 9); }
        var expected = -1;
        function drawn(processed, total) {
            if (processed === total && total === expected) {
                state.ready = true;
                document.body.setAttribute("data-points", String(total));
            }
        }
        var cluster = L.markerClusterGroup({
            chunkedLoading: true, chunkInterval: 120, chunkDelay: 20, chunkProgress: drawn,
            spiderfyOnMaxZoom: true,  // incidents at one spot fan out at the deepest zoom
            showCoverageOnHover: false, iconCreateFunction: clusterIcon
        });
        // (no maxZoom option: the layer control would grey the layer out beyond it)
        var heat = L.heatLayer([], {radius: 16, blur: 18, minOpacity: 0.3});
        layers.incidents = cluster;
        layers.heat = heat;
        control.addOverlay(cluster, config.names.incidents);
        control.addOverlay(heat, config.names.heat);
        config.layersOn.forEach(function (id) {
            if (layers[id] && !map.hasLayer(layers[id])) { map.addLayer(layers[id]); }
        });

        legendBox(map, layers, config.legends || {});
        if (map.attributionControl) {
            map.attributionControl.setPrefix(
                '<a href="https://leafletjs.com" target="_blank" rel="noopener">Leaflet</a>');
        }

        if (config.view) {
            map.setView([config.view[0], config.view[1]], config.view[2]);
        } else {
            map.fitBounds(config.fit, {padding: [12, 12]});
        }

        function shown() {
            return config.order.filter(function (id) {
                return layers[id] && map.hasLayer(layers[id]);
            });
        }
        map.on("overlayadd overlayremove", function () {
            post({type: "layers", layers: shown()});
        });
        map.on("moveend", debounce(function () {
            var c = map.getCenter();
            // in the base map's datum; the page tags it so the server reads it back right
            post({type: "view", lat: c.lat, lon: c.lng, z: map.getZoom(), crs: config.crs});
        }, 250));

        layers.villages.eachLayer(function (layer) {
            layer.bindTooltip(layer.feature.properties.name,
                              {permanent: true, direction: "center", className: "sm-label"});
        });
        config.villageLayers.forEach(function (id) {
            layers[id].on("click", function (e) {
                var feature = e.layer.feature;
                map.fitBounds(e.layer.getBounds(), {padding: [20, 20]});
                post({type: "village", code: feature.properties.code});
                // drilling into a village shows its grids, the next level down
                if (layers.grids && !map.hasLayer(layers.grids)) {
                    map.addLayer(layers.grids);
                    post({type: "layers", layers: shown()});
                }
            });
        });
        layers.grids.on("click", function (e) {
            var feature = e.layer.feature;
            post({type: "grid", code: feature.properties.code,
                  village: feature.properties.village});
        });

        function openItem(marker) {
            var id = marker.options.itemId;
            post({type: "item", id: id});
            fetch(config.itemUrl.replace("{id}", encodeURIComponent(id)),
                  {credentials: "same-origin"})
                .then(function (r) { return r.ok ? r.json() : null; })
                .then(function (item) {
                    if (item) {
                        marker.bindPopup(popupContent(item, strings)).openPopup();
                    }
                });
        }

        window.addEventListener("message", function (event) {
            var m = event.data;
            if (event.origin !== window.location.origin || !m || m.source !== "staff-map-page") {
                return;
            }
            if (m.type === "fit") { map.fitBounds(config.fitAll, {padding: [12, 12]}); }
        });

        status.textContent = strings.loading || "";
        fetch(config.pointsUrl, {credentials: "same-origin"})
            .then(function (r) {
                if (!r.ok) { throw new Error(String(r.status)); }
                return r.json();
            })
            .then(function (data) {
                var markers = new Array(data.ids.length);
                var heatPoints = new Array(data.ids.length);
                for (var i = 0; i < data.ids.length; i++) {
                    var s = data.status[i];
                    var m = L.circleMarker([data.lat[i], data.lon[i]], {
                        radius: 6, weight: 1, color: "#ffffff", fillOpacity: 0.9,
                        fillColor: STATUS_COLOURS[s] || "#888888",
                        status: s, itemId: data.ids[i]
                    });
                    m.on("click", function (e) { openItem(e.target); });
                    markers[i] = m;
                    heatPoints[i] = [data.lat[i], data.lon[i], 0.6];
                }
                expected = markers.length;
                state.points = markers.length;
                status.textContent = (strings.loaded || "{n}").replace("{n}", data.total);
                heat.setLatLngs(heatPoints);
                cluster.addLayers(markers);  // in chunks: drawn() marks the end
                if (!markers.length || !map.hasLayer(cluster)) { drawn(expected, expected); }
            })
            .catch(function () {
                status.textContent = strings.failed || "!";
                status.classList.add("sm-status-bad");
                document.body.setAttribute("data-points", "error");
            });
    }

    window.StaffMapFrame = {start: start};
}());
